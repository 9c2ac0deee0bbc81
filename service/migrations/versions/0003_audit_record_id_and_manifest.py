"""audit_log: a unique ``record_id`` per row (idempotent spool replay) and the model's manifest.

``model_manifest_sha256`` is the SHA-256 of the integrity manifest of the artifact
that answered. Rows written before this revision have neither (NULL; a unique index
allows many NULLs on SQLite and PostgreSQL).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("record_id", sa.String(length=36), nullable=True))
    op.add_column(
        "audit_log", sa.Column("model_manifest_sha256", sa.String(length=64), nullable=True)
    )
    op.create_index("uq_audit_log_record_id", "audit_log", ["record_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_audit_log_record_id", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("model_manifest_sha256")
        batch.drop_column("record_id")
