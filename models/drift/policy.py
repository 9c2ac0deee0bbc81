"""The feed guard's thresholds: a YAML policy file with embedded defaults."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_POLICY_PATH = Path(__file__).parent / "policy_default.yaml"
MSG_POLICY = "invalid feed-guard policy {path}: {problem}"


class DriftPolicy(BaseModel):
    """Thresholds of the feed guard (see ``policy_default.yaml`` for their meaning)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    psi_max: float = Field(default=0.25, gt=0)
    js_distance_max: float | None = Field(default=0.2, gt=0, le=1)
    missing_share_jump_max: float = Field(default=0.10, gt=0, le=1)
    unseen_category_share_max: float = Field(default=0.01, ge=0, le=1)
    beyond_range_share_max: float = Field(default=0.05, ge=0, le=1)
    source_drop_max: float = Field(default=0.5, gt=0, le=1)
    constant_fails: bool = True
    min_values: int = Field(default=100, ge=1)
    ignore_fields: list[str] = Field(default_factory=list)
    window_size: int = Field(default=1000, ge=10)


def load_drift_policy(path: str | Path | None = None) -> DriftPolicy:
    """Read a policy file; the built-in defaults when ``path`` is None.

    Raises
    ------
    ValueError
        The file cannot be read or breaks the policy's shape (message names the file).
    """
    policy_path = Path(path) if path is not None else DEFAULT_POLICY_PATH
    try:
        raw = yaml.safe_load(policy_path.read_text("utf-8")) or {}
        return DriftPolicy.model_validate(raw)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ValueError(MSG_POLICY.format(path=policy_path, problem=exc)) from exc
