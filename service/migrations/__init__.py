"""Alembic migrations of the service's database (run by ``tarve db upgrade`` or at startup)."""
