"""Orders: placing them, their stock and totals, status changes and their history."""
