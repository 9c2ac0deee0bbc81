"""The artifact's integrity manifest hash, as training records it: fairness stamp, version tag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.artifact import TAG_MANIFEST_SHA256, manifest_sha256, verify_artifact
from tests.training.test_tracking import NAME, tracked  # noqa: F401 - a fixture


def test_the_fairness_report_names_the_manifest_of_the_files_it_audited(
    trained_model_dir: Path,
) -> None:
    audit = json.loads((trained_model_dir / "fairness_audit.json").read_text("utf-8"))
    assert audit["model"]["manifest_sha256"] == manifest_sha256(trained_model_dir)
    assert verify_artifact(trained_model_dir) == manifest_sha256(trained_model_dir)


def test_the_registered_version_is_tagged_with_the_manifest_hash(tracked: Any) -> None:  # noqa: F811
    from mlflow import MlflowClient

    digest = manifest_sha256(tracked.artifact_dir)
    tags = MlflowClient().get_model_version(NAME, tracked.model_version).tags
    assert tags[TAG_MANIFEST_SHA256] == digest
    audit = json.loads((Path(tracked.artifact_dir) / "fairness_audit.json").read_text("utf-8"))
    assert audit["model"]["manifest_sha256"] == digest
