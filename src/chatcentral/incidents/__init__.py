"""Incidents an operator must hear of: opened once, resolved once, whatever the volume."""
