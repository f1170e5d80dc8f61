"""The shop owner's web panel at `/panel/`: passwordless login over WhatsApp, the orders
board with its live feed, and one order with its status buttons."""
