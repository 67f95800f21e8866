"""Alembic migrations of the CRM database, applied at start by ``Database.migrate``."""
