"""Orders: placing them, their stock and totals, status changes and their history, and
the shop's numbers over a run of days (stats.py)."""
