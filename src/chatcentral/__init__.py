"""chatcentral: multi-tenant WhatsApp ordering bot for local shops."""

__version__ = "0.1.0"
