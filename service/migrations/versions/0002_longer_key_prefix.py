"""api_keys.prefix holds ``tarve_<role>_`` and six characters: up to 32 characters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("prefix", existing_type=sa.String(length=20), type_=sa.String(length=32))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("prefix", existing_type=sa.String(length=32), type_=sa.String(length=20))
