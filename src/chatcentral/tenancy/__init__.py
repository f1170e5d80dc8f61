"""Shops as tenants: onboarding, the registry, the directory the webhook routes by, migrations."""
