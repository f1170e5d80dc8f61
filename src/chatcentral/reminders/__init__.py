"""Refill reminders for water-delivery customers: who is due (`policy`, pure) and the
scheduled job that queues the template (`job`)."""
