"""A shop's products beyond the catalog rows: their photos."""
