"""Outbound delivery: the transactional outbox, its dispatcher, and delivery statuses."""
