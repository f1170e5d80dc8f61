"""Local stand-ins for Meta, for trying the bot and for end-to-end tests and load runs."""
