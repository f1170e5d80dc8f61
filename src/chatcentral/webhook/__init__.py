"""The single dynamic `/webhook`: Meta's handshake, signed POSTs, routing to shops."""
