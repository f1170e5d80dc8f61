"""Conversations: what the customer sent, what the bot decides, and the transaction around it."""
