"""Every MLflow read in tarve: the tracking store, model URIs, versions, aliases and tags.

Where the store is: ``MLFLOW_TRACKING_URI`` when set (an MLflow server in production),
else a SQLite store under ``TARVE_HOME`` (see :mod:`models.store`). Every function here
points MLflow at that store first, so a ``models:/NAME@alias`` URI means the same
version to ``tarve serve``, ``tarve audit``, ``tarve promote`` and ``tarve models list``
wherever they run. MLflow writes (runs, versions, aliases, tags) live in
``training/tracking.py``. MLflow itself is imported inside the functions, so importing
this module stays light.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.artifact import MANIFEST, MSG_NOT_AN_ARTIFACT
from models.store import tarve_home

if TYPE_CHECKING:
    from mlflow import MlflowClient

MODELS_SCHEME = "models:/"
RUNS_SCHEME = "runs:/"
MSG_NO_MODEL = "no registered model named {name!r}"
MSG_NO_VERSION = "{name} has no version {version!r}"
MSG_NO_ALIAS = "{name} has no alias {alias!r}"
MSG_NOT_MODELS_URI = "{uri!r} is not a models:/NAME@alias or models:/NAME/VERSION URI"


class RegistryLookupError(LookupError):
    """A registered model, version or alias that the tracking store does not hold."""


@dataclass(frozen=True)
class ModelReference:
    """The parts of a ``models:/NAME@alias`` or ``models:/NAME/VERSION`` URI."""

    name: str
    version: str | None = None
    alias: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version as the registry describes it."""

    name: str
    version: str
    run_id: str | None
    source: str
    creation_timestamp: int | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    model_id: str | None = None


def tracking_uri() -> str:
    """Return the tracking store's URI.

    Returns
    -------
    str
        ``MLFLOW_TRACKING_URI`` if set, else a SQLite store under ``TARVE_HOME``.
    """
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{tarve_home() / 'mlflow.db'}"


def artifact_location() -> str:
    """Return the artifact root for experiments tarve creates in the embedded store.

    Returns
    -------
    str
        A ``file:`` URI under ``TARVE_HOME``.
    """
    return (tarve_home() / "mlartifacts").as_uri()


def configure_mlflow() -> str:
    """Point the ``mlflow`` client (tracking and registry) at tarve's store.

    Returns
    -------
    str
        The tracking URI now in use.
    """
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def client() -> MlflowClient:
    """Return an ``MlflowClient`` on tarve's store.

    Returns
    -------
    MlflowClient
    """
    from mlflow import MlflowClient

    uri = configure_mlflow()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def is_mlflow_uri(uri: str | Path) -> bool:
    """Whether ``uri`` names something in MLflow rather than a local directory.

    Parameters
    ----------
    uri : str or Path
        A model URI or path.

    Returns
    -------
    bool
    """
    text = str(uri)
    return text.startswith((MODELS_SCHEME, RUNS_SCHEME)) or "://" in text


def parse_models_uri(uri: str) -> ModelReference:
    """Split a ``models:/`` URI into name and version or alias.

    Parameters
    ----------
    uri : str
        ``models:/NAME@alias`` or ``models:/NAME/VERSION``.

    Returns
    -------
    ModelReference

    Raises
    ------
    ValueError
        ``uri`` is not a ``models:/`` URI.
    """
    if not uri.startswith(MODELS_SCHEME):
        raise ValueError(MSG_NOT_MODELS_URI.format(uri=uri))
    reference = uri[len(MODELS_SCHEME) :]
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return ModelReference(name=name, alias=alias)
    name, _, version = reference.partition("/")
    return ModelReference(name=name, version=version or None)


def models_uri(name: str, version: str | int) -> str:
    """Return the ``models:/NAME/VERSION`` URI of one version.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str or int
        Version number.

    Returns
    -------
    str
    """
    return f"{MODELS_SCHEME}{name}/{version}"


def version_for_alias(name: str, alias: str) -> str:
    """Return the version number behind ``alias`` of registered model ``name``.

    Parameters
    ----------
    name : str
        Registered model name.
    alias : str
        Alias such as ``candidate`` or ``production``.

    Returns
    -------
    str

    Raises
    ------
    RegistryLookupError
        No such model or alias.
    """
    from mlflow.exceptions import MlflowException

    try:
        return str(client().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise RegistryLookupError(MSG_NO_ALIAS.format(name=name, alias=alias)) from exc


def resolve_version(name: str, version: str | int) -> str:
    """Return a version number for ``version``, which may be ``@alias``.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str or int
        A version number or ``@alias``.

    Returns
    -------
    str
    """
    text = str(version)
    if text.startswith("@"):
        return version_for_alias(name, text[1:])
    return text


def get_version(name: str, version: str | int) -> VersionInfo:
    """One registered version with its tags and aliases.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str or int
        A version number or ``@alias``.

    Returns
    -------
    VersionInfo

    Raises
    ------
    RegistryLookupError
        No such model, version or alias.
    """
    from mlflow.exceptions import MlflowException

    number = resolve_version(name, version)
    try:
        item = client().get_model_version(name, number)
    except MlflowException as exc:
        raise RegistryLookupError(MSG_NO_VERSION.format(name=name, version=number)) from exc
    return _version_info(item)


def version_tags(name: str, version: str | int) -> dict[str, str]:
    """Return the tags of one registered version.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str or int
        A version number or ``@alias``.

    Returns
    -------
    dict of str to str
    """
    return get_version(name, version).tags


def aliases(name: str) -> dict[str, str]:
    """Every alias of registered model ``name`` and the version behind it.

    Parameters
    ----------
    name : str
        Registered model name.

    Returns
    -------
    dict of str to str

    Raises
    ------
    RegistryLookupError
        No registered model ``name``.
    """
    from mlflow.exceptions import MlflowException

    try:
        registered = client().get_registered_model(name)
    except MlflowException as exc:
        raise RegistryLookupError(MSG_NO_MODEL.format(name=name)) from exc
    return {alias: str(version) for alias, version in (registered.aliases or {}).items()}


def list_versions(name: str) -> list[VersionInfo]:
    """All versions of registered model ``name``, newest first.

    Parameters
    ----------
    name : str
        Registered model name.

    Returns
    -------
    list of VersionInfo

    Raises
    ------
    RegistryLookupError
        No registered model ``name``.
    """
    from mlflow.exceptions import MlflowException

    by_version: dict[str, list[str]] = {}
    for alias, version in aliases(name).items():
        by_version.setdefault(version, []).append(alias)
    try:
        items = client().search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        raise RegistryLookupError(MSG_NO_MODEL.format(name=name)) from exc
    infos = [_version_info(item, by_version.get(str(item.version), [])) for item in items]
    return sorted(infos, key=lambda info: int(info.version), reverse=True)


def next_version(name: str) -> str:
    """Return the version number the registry will most likely give the next version of ``name``.

    Parameters
    ----------
    name : str
        Registered model name (need not exist yet).

    Returns
    -------
    str
    """
    from mlflow.exceptions import MlflowException

    try:
        items = client().search_model_versions(f"name = '{name}'")
    except MlflowException:
        return "1"
    return str(max((int(item.version) for item in items), default=0) + 1)


def experiment_id(name: str) -> str | None:
    """Return the id of experiment ``name``, or None when the store has none of that name.

    Parameters
    ----------
    name : str
        Experiment name.

    Returns
    -------
    str or None
    """
    import mlflow

    configure_mlflow()
    experiment = mlflow.get_experiment_by_name(name)
    return None if experiment is None else str(experiment.experiment_id)


def resolve_model_uri(uri: str | Path) -> Path:
    """Return a local tarve artifact directory for a path or an MLflow URI.

    Parameters
    ----------
    uri : str or Path
        A model directory, ``models:/NAME@alias``, ``models:/NAME/VERSION`` or
        ``runs:/RUN_ID/PATH``.

    Returns
    -------
    Path
        ``uri`` itself for a path; for an MLflow URI, the downloaded ``artifacts/model``
        folder of the logged pyfunc model (or the downloaded folder itself).

    Raises
    ------
    FileNotFoundError
        The downloaded artifacts hold no tarve model.
    """
    text = str(uri)
    if not is_mlflow_uri(text):
        return Path(text)
    import mlflow

    configure_mlflow()
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
    for candidate in (local, local / "artifacts" / "model", local / "model"):
        if (candidate / MANIFEST).is_file():
            return candidate
    matches = sorted(local.rglob(MANIFEST))
    if not matches:
        raise FileNotFoundError(
            MSG_NOT_AN_ARTIFACT.format(path=f"{text} ({local})", manifest=MANIFEST)
        )
    return matches[0].parent


def _version_info(item: Any, version_aliases: list[str] | None = None) -> VersionInfo:
    known = list(getattr(item, "aliases", None) or version_aliases or [])
    timestamp = item.creation_timestamp
    return VersionInfo(
        name=str(item.name),
        version=str(item.version),
        run_id=str(item.run_id) if item.run_id else None,
        source=str(item.source or ""),
        creation_timestamp=int(timestamp) if timestamp else None,
        tags={str(key): str(value) for key, value in (item.tags or {}).items()},
        aliases=tuple(sorted(known)),
        model_id=str(item.model_id) if getattr(item, "model_id", None) else None,
    )
