"""The artifact's integrity manifest: one changed byte in any file, and loading refuses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from models.artifact import (
    INTEGRITY_FILE,
    MANIFEST,
    SCHEMA_FILE,
    ArtifactIntegrityError,
    manifest_sha256,
    verify_artifact,
    write_integrity_manifest,
)
from models.model import ServiceNeedModel, load_model
from tests.support.fixture_model import save_fixture_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_fixture_model(tmp_path_factory.mktemp("integrity") / "m", seed=0, version="v1")


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    return target


def _first_booster(directory: Path) -> str:
    return sorted(p.relative_to(directory).as_posix() for p in (directory / "boosters").iterdir())[
        0
    ]


def test_save_writes_a_manifest_of_every_file_loading_reads(saved: Path) -> None:
    listed = json.loads((saved / INTEGRITY_FILE).read_text())["files"]
    services = json.loads((saved / MANIFEST).read_text())["services"]
    assert set(listed) == {MANIFEST, SCHEMA_FILE, *(f"boosters/{name}.txt" for name in services)}
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in listed.values())
    assert verify_artifact(saved) == manifest_sha256(saved)


def test_the_loaded_model_knows_its_manifest_hash(saved: Path) -> None:
    assert load_model(saved).manifest_sha256 == manifest_sha256(saved)


@pytest.mark.parametrize("kind", ["model-json", "schema-json", "booster-txt", "manifest"])
def test_one_changed_byte_in_any_file_kind_is_refused(copy: Path, kind: str) -> None:
    expected = manifest_sha256(copy)
    name = {
        "model-json": MANIFEST,
        "schema-json": SCHEMA_FILE,
        "booster-txt": _first_booster(copy),
        "manifest": INTEGRITY_FILE,
    }[kind]
    path = copy / name
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] = ord("0") if data[middle] != ord("0") else ord("1")
    path.write_bytes(bytes(data))

    with pytest.raises(ArtifactIntegrityError):
        load_model(copy, expected_manifest_sha256=expected)


def test_an_edited_leaf_value_is_refused(copy: Path) -> None:
    booster = copy / _first_booster(copy)
    text = booster.read_text()
    edited = re.sub(r"^leaf_value=(\S+)", "leaf_value=9.5", text, count=1, flags=re.M)
    assert edited != text
    booster.write_text(edited)

    with pytest.raises(ArtifactIntegrityError, match="does not match its SHA-256"):
        load_model(copy)


def test_a_threshold_set_to_zero_is_refused(copy: Path) -> None:
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["thresholds"] = dict.fromkeys(manifest["thresholds"], 0.0)
    (copy / MANIFEST).write_text(json.dumps(manifest))

    with pytest.raises(ArtifactIntegrityError, match=r"tarve_model\.json does not match"):
        load_model(copy)


def test_a_rewritten_manifest_is_refused_when_the_registry_hash_is_known(copy: Path) -> None:
    expected = manifest_sha256(copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["thresholds"] = dict.fromkeys(manifest["thresholds"], 0.0)
    (copy / MANIFEST).write_text(json.dumps(manifest))
    write_integrity_manifest(copy)  # an attacker who rewrites the manifest too

    assert isinstance(load_model(copy), ServiceNeedModel)  # consistent on its own...
    with pytest.raises(ArtifactIntegrityError, match="the registry expects"):
        load_model(copy, expected_manifest_sha256=expected)  # ...but not the registered one


def test_an_artifact_without_a_manifest_is_refused(copy: Path) -> None:
    (copy / INTEGRITY_FILE).unlink()
    with pytest.raises(ArtifactIntegrityError, match="no integrity manifest"):
        load_model(copy)


def test_a_missing_booster_is_refused(copy: Path) -> None:
    (copy / _first_booster(copy)).unlink()
    with pytest.raises(ArtifactIntegrityError, match="is missing"):
        load_model(copy)


def test_reports_written_next_to_the_model_are_not_part_of_it(copy: Path) -> None:
    (copy / "evaluation.json").write_text("{}")
    assert load_model(copy).manifest_sha256 == manifest_sha256(copy)


@pytest.mark.parametrize("breakage", ["format-error", "truncated"])
def test_a_malformed_booster_with_matching_hashes_is_an_error_not_a_dead_process(
    copy: Path, breakage: str
) -> None:
    booster = copy / _first_booster(copy)
    text = booster.read_text()
    if breakage == "format-error":  # LightGBM: "Model format error", then terminate
        booster.write_text(re.sub(r"^num_leaves=\d+", "num_leaves=900", text, flags=re.M))
    else:  # cut in half: LightGBM segfaults
        booster.write_bytes(booster.read_bytes()[: len(text) // 2])
    write_integrity_manifest(copy)

    with pytest.raises(ArtifactIntegrityError, match="LightGBM cannot read"):
        load_model(copy, isolate=True)
