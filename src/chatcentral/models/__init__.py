"""ORM models: `central` (the registry) and `tenant` (one schema per shop)."""
