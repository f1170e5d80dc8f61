"""Handoffs: a customer who asked for a person, and the staff who answer them."""
