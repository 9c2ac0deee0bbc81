"""The model artifact on disk: a directory of LightGBM text models and JSON.

Layout::

    tarve_model.json     format version, services, thresholds, calibrators, feature
                         names, category maps, metadata
    schema.json          the input schema the model was trained on
    boosters/<svc>.txt   one LightGBM text model per service
    effects/             the effect models, when trained (:mod:`models.effects`)
    artifact_sha256.json the integrity manifest: the SHA-256 of every file above
                         (written last by :func:`save_model`); the manifest's own
                         SHA-256 is the artifact's identity, recorded as the MLflow
                         version tag ``manifest_sha256``, in the fairness report's
                         ``model`` stamp and in every audit-log row
    (anything else)      reports written next to it by training (evaluation, audit,
                         model card); loading ignores them

Loading reads only text and JSON: it never unpickles. It first checks every file
against the integrity manifest (and the manifest against an expected hash, when the
registry gives one): a tampered artifact is refused before LightGBM sees it. With
``isolate=True`` the LightGBM text files are also parsed in a child process first,
because LightGBM aborts or crashes the process on some malformed files instead of
raising. This module knows the files;
:func:`models.model.load_model` builds the model from them and
:func:`models.registry.resolve_model_uri` turns MLflow URIs into such a directory.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb

from models.calibration import Calibrator, calibrator_from_dict
from models.effects import EFFECTS_DIR
from models.schema import Schema, schema_from_dict

if TYPE_CHECKING:
    from models.model import ServiceNeedModel

FORMAT_VERSION = 1
MANIFEST = "tarve_model.json"
SCHEMA_FILE = "schema.json"
BOOSTER_DIR = "boosters"
INTEGRITY_FILE = "artifact_sha256.json"
INTEGRITY_ALGORITHM = "sha256"
# The registered version's tag holding the integrity manifest's SHA-256 (set at training).
TAG_MANIFEST_SHA256 = "tarve.manifest_sha256"
CHILD_LOAD_TIMEOUT_SECONDS = 60.0
MSG_NO_INTEGRITY = "{path}: no integrity manifest ({name}); the artifact is refused"
MSG_BAD_INTEGRITY = "{path}: the integrity manifest ({name}) cannot be read: {problem}"
MSG_MANIFEST_MISMATCH = (
    "{path}: the integrity manifest's SHA-256 is {found}, the registry expects {expected}"
)
MSG_FILE_MISMATCH = "{path}: {file} does not match its SHA-256 in the integrity manifest"
MSG_FILE_MISSING = "{path}: {file} is missing"
MSG_FILE_UNLISTED = "{path}: {file} is not in the integrity manifest"
MSG_BOOSTER_UNREADABLE = "{path}: LightGBM cannot read {file}: {problem}"
MSG_NOT_AN_ARTIFACT = "{path} is not a tarve model directory (no {manifest})"
MSG_FORMAT = "{path}: model format version {found} is not supported (expected {expected})"
MSG_FEATURES = (
    "{path}: the stored feature names do not match the schema's model inputs: "
    "stored {stored}, schema {schema}"
)


class ArtifactIntegrityError(ValueError):
    """An artifact whose files do not match its integrity manifest (or is unreadable)."""


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_files(directory: Path, services: list[str]) -> list[str]:
    """Return the files (relative POSIX paths) that loading reads, hence that are hashed."""
    files = [MANIFEST, SCHEMA_FILE, *(f"{BOOSTER_DIR}/{service}.txt" for service in services)]
    effects = directory / EFFECTS_DIR  # effect models are loaded too (models.effects)
    if effects.is_dir():
        files += sorted(
            p.relative_to(directory).as_posix() for p in effects.rglob("*") if p.is_file()
        )
    return files


def write_integrity_manifest(directory: str | Path) -> str:
    """Hash every artifact file into :data:`INTEGRITY_FILE`; return the manifest's SHA-256.

    Parameters
    ----------
    directory : str or Path
        An artifact directory whose model files are written.

    Returns
    -------
    str
        The SHA-256 (hex) of the integrity manifest file.
    """
    directory = Path(directory)
    services = list(read_manifest(directory)["services"])
    files = {name: _sha256_file(directory / name) for name in artifact_files(directory, services)}
    body = {"algorithm": INTEGRITY_ALGORITHM, "files": files}
    (directory / INTEGRITY_FILE).write_text(json.dumps(body, indent=2, sort_keys=True), "utf-8")
    return manifest_sha256(directory)


def manifest_sha256(directory: str | Path) -> str:
    """Return the SHA-256 of the integrity manifest of ``directory``.

    Parameters
    ----------
    directory : str or Path
        An artifact directory.

    Returns
    -------
    str

    Raises
    ------
    ArtifactIntegrityError
        The directory holds no integrity manifest.
    """
    path = Path(directory) / INTEGRITY_FILE
    if not path.is_file():
        raise ArtifactIntegrityError(MSG_NO_INTEGRITY.format(path=directory, name=INTEGRITY_FILE))
    return _sha256_file(path)


def verify_artifact(directory: str | Path, *, expected_manifest_sha256: str | None = None) -> str:
    """Check every file of artifact ``directory`` against its integrity manifest.

    Parameters
    ----------
    directory : str or Path
        An artifact directory.
    expected_manifest_sha256 : str, optional
        The manifest's SHA-256 as the registry recorded it; checked when given.

    Returns
    -------
    str
        The manifest's SHA-256.

    Raises
    ------
    ArtifactIntegrityError
        No manifest, a manifest that does not match the expected hash, or a file that
        is missing, not listed or does not match its hash.
    """
    directory = Path(directory)
    found = manifest_sha256(directory)
    if expected_manifest_sha256 is not None and found != expected_manifest_sha256:
        raise ArtifactIntegrityError(
            MSG_MANIFEST_MISMATCH.format(
                path=directory, found=found, expected=expected_manifest_sha256
            )
        )
    try:
        body = json.loads((directory / INTEGRITY_FILE).read_text("utf-8"))
        listed: dict[str, str] = dict(body["files"])
        if body.get("algorithm") != INTEGRITY_ALGORITHM:
            raise ValueError(f"algorithm {body.get('algorithm')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactIntegrityError(
            MSG_BAD_INTEGRITY.format(path=directory, name=INTEGRITY_FILE, problem=exc)
        ) from exc
    if MANIFEST not in listed:
        raise ArtifactIntegrityError(MSG_FILE_UNLISTED.format(path=directory, file=MANIFEST))
    for name, digest in listed.items():
        path = directory / name
        if ".." in Path(name).parts or not path.is_file():
            raise ArtifactIntegrityError(MSG_FILE_MISSING.format(path=directory, file=name))
        if _sha256_file(path) != digest:
            raise ArtifactIntegrityError(MSG_FILE_MISMATCH.format(path=directory, file=name))
    # The model manifest is verified now: the files it names must all be listed.
    services = list(read_manifest(directory)["services"])
    for name in artifact_files(directory, services):
        if name not in listed:
            raise ArtifactIntegrityError(MSG_FILE_UNLISTED.format(path=directory, file=name))
    return found


# The child loads LightGBM's shared library alone through ctypes (no numpy, no Python
# package): about 0.2 s, where importing ``lightgbm`` costs seconds on a busy machine.
_CHILD_LOADER = """
import ctypes, sys
lib = ctypes.cdll.LoadLibrary(sys.argv[1])
lib.LGBM_GetLastError.restype = ctypes.c_char_p
for index, path in enumerate(sys.argv[2:]):
    sys.stdout.write(f"@tarve-file {index}\\n")
    sys.stdout.flush()
    handle, iterations = ctypes.c_void_p(), ctypes.c_int()
    if lib.LGBM_BoosterCreateFromModelfile(
        path.encode(), ctypes.byref(iterations), ctypes.byref(handle)
    ):
        sys.stderr.write("[Fatal] " + lib.LGBM_GetLastError().decode("utf-8", "replace") + "\\n")
        sys.exit(3)
    lib.LGBM_BoosterFree(handle)
"""


def _lightgbm_library() -> str:
    return str(lgb.basic._LIB._name)


def _child_problem(output: str, returncode: int) -> str:
    markers = ("[Fatal]", "Model format error", "Check failed", "Wrong size")
    found = [line for line in output.splitlines() if any(mark in line for mark in markers)]
    problem = found[0].rsplit("] ", 1)[-1].strip() if found else ""
    if returncode < 0:
        problem = f"the loader died of signal {-returncode}" + (f" ({problem})" if problem else "")
    return problem[:200] or f"exit status {returncode}"


def check_boosters_in_child(
    paths: list[Path], *, timeout: float = CHILD_LOAD_TIMEOUT_SECONDS
) -> None:
    """Parse LightGBM text files in a child process; raise if it fails or dies.

    LightGBM aborts (``Model format error``, ``terminate called``) or segfaults on some
    malformed model files instead of raising, which would take the caller down with it.

    Parameters
    ----------
    paths : list of Path
        LightGBM text model files.
    timeout : float
        Seconds the child may take.

    Raises
    ------
    ArtifactIntegrityError
        The child did not load every file.
    """
    if not paths:
        return
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _CHILD_LOADER,
                _lightgbm_library(),
                *map(str, paths),
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ArtifactIntegrityError(
            MSG_BOOSTER_UNREADABLE.format(
                path=paths[0].parent, file="a booster", problem=f"no answer in {timeout:g} s"
            )
        ) from exc
    if done.returncode != 0:
        output = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
        problem = _child_problem(output, done.returncode)
        started = [
            line.split()[-1] for line in output.splitlines() if line.startswith("@tarve-file")
        ]
        failed = paths[int(started[-1])] if started else paths[0]
        raise ArtifactIntegrityError(
            MSG_BOOSTER_UNREADABLE.format(
                path=failed.parent.parent,
                file=f"{failed.parent.name}/{failed.name}",
                problem=problem,
            )
        )


def save_model(model: ServiceNeedModel, path: str | Path) -> Path:
    """Write ``model`` to directory ``path`` (created if missing).

    Parameters
    ----------
    model : ServiceNeedModel
        The model to write.
    path : str or Path
        The artifact directory.

    Returns
    -------
    Path
        The artifact directory.
    """
    directory = Path(path)
    (directory / BOOSTER_DIR).mkdir(parents=True, exist_ok=True)
    for service, booster in model.boosters.items():
        booster.save_model(str(directory / BOOSTER_DIR / f"{service}.txt"))
    manifest = {
        "format_version": FORMAT_VERSION,
        "services": model.services,
        "thresholds": model.thresholds,
        "calibrators": {name: cal.to_dict() for name, cal in model.calibrators.items()},
        "feature_names": model.encoder.feature_names,
        "feature_to_field": model.encoder.feature_to_field,
        "categorical_features": model.encoder.categorical_features,
        "category_maps": model.encoder.category_maps,
        "schema_fingerprint": model.schema.fingerprint(),
        "metadata": model.metadata,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), "utf-8")
    (directory / SCHEMA_FILE).write_text(
        json.dumps(model.schema.to_dict(), indent=2, ensure_ascii=False), "utf-8"
    )
    if model.effects is not None:
        model.effects.save(directory)
    write_integrity_manifest(directory)
    return directory


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Return the manifest (``tarve_model.json``) of artifact directory ``path``.

    Parameters
    ----------
    path : str or Path
        A local artifact directory.

    Returns
    -------
    dict
        The parsed manifest.

    Raises
    ------
    FileNotFoundError
        ``path`` holds no manifest.
    """
    directory = Path(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(MSG_NOT_AN_ARTIFACT.format(path=directory, manifest=MANIFEST))
    manifest: dict[str, Any] = json.loads(manifest_path.read_text("utf-8"))
    return manifest


@dataclass(frozen=True)
class StoredModel:
    """What an artifact directory holds, read back from its text and JSON files."""

    directory: Path
    schema: Schema
    boosters: dict[str, lgb.Booster]
    calibrators: dict[str, Calibrator]
    thresholds: dict[str, float]
    metadata: dict[str, Any]
    feature_names: list[str]
    manifest_sha256: str


def read_artifact(
    path: str | Path, *, expected_manifest_sha256: str | None = None, isolate: bool = False
) -> StoredModel:
    """Read the parts of a model from artifact directory ``path``.

    Parameters
    ----------
    path : str or Path
        A local artifact directory (resolve MLflow URIs with
        :func:`models.registry.resolve_model_uri` first).
    expected_manifest_sha256 : str, optional
        The integrity manifest's SHA-256 the registry recorded; checked when given.
    isolate : bool, default False
        Parse the LightGBM files in a child process first (a server does: a malformed
        file must be an error, never a dead process).

    Returns
    -------
    StoredModel

    Raises
    ------
    FileNotFoundError
        ``path`` holds no manifest.
    ArtifactIntegrityError
        A file does not match the integrity manifest, or LightGBM cannot read one.
    ValueError
        The format version is not supported.
    """
    directory = Path(path)
    digest = verify_artifact(directory, expected_manifest_sha256=expected_manifest_sha256)
    manifest = read_manifest(directory)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            MSG_FORMAT.format(
                path=directory, found=manifest.get("format_version"), expected=FORMAT_VERSION
            )
        )
    schema = schema_from_dict(
        json.loads((directory / SCHEMA_FILE).read_text("utf-8")), origin=directory / SCHEMA_FILE
    )
    booster_paths = {
        service: directory / BOOSTER_DIR / f"{service}.txt" for service in manifest["services"]
    }
    if isolate:
        check_boosters_in_child(list(booster_paths.values()))
    boosters = {
        service: lgb.Booster(model_file=str(booster_path))
        for service, booster_path in booster_paths.items()
    }
    return StoredModel(
        directory=directory,
        schema=schema,
        boosters=boosters,
        calibrators={
            name: calibrator_from_dict(data) for name, data in manifest["calibrators"].items()
        },
        thresholds=manifest["thresholds"],
        metadata=manifest.get("metadata", {}),
        feature_names=list(manifest["feature_names"]),
        manifest_sha256=digest,
    )
