"""Outgoing webhooks: a shop's own systems hear of its orders (a Premium feature)."""
