"""The served model, swapped atomically on reload.

A :class:`LoadedModel` bundles everything one model version needs to serve (the
model, its generated request models, where it came from); it never changes. The
:class:`ModelHolder` keeps a reference to the current one: a request takes that
reference once, at its start, and finishes on that object even if a reload swaps in
another meanwhile. A reload loads the new version and runs a smoke prediction (a
profile generated from its schema, validated by its request model, predicted and
explained; probabilities finite and in [0, 1]; contributions plus base equal the raw
score) before swapping; if anything fails, the old model keeps serving and the error
is kept for ``/readyz`` and the caller. Optional polling reloads when the version
behind an alias (or the manifest of a model directory) changes.

Integrity: every artifact is checked against its SHA-256 manifest, and the manifest
against the registry's ``tarve.manifest_sha256`` tag of the version; the LightGBM
files are parsed in a child process first, so a malformed file is a rejected model,
never a dead server. Registry calls are bounded (``registry_timeout_seconds``); each
verified model fetched from the registry is copied to a local directory, from which
the server starts when the registry does not answer at start.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from models import registry
from models.artifact import (
    INTEGRITY_FILE,
    MANIFEST,
    TAG_MANIFEST_SHA256,
    manifest_sha256,
)
from models.model import ServiceNeedModel, load_model
from models.recommend import recommend
from service.problems import ModelRejected, ModelUnavailable
from service.request_model import RequestModels, build_request_models, example_request

logger = logging.getLogger("service.model_holder")
FAIRNESS_AUDIT_FILE = "fairness_audit.json"
MSG_NO_MODEL = "no model has been loaded yet"
MSG_SMOKE = "smoke prediction failed: {problem}"
MSG_REGISTRY_TIMEOUT = "the model registry did not answer within {seconds:g} s"
MSG_WAITING = "waiting for the model registry (loading {uri!r} since {since})"
LOCAL_COPY_SOURCE = "source.json"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\")]+")


def public_reason(text: str) -> str:
    """Return ``text`` without URLs (an MLflow server's address) for unauthenticated answers.

    ``models:/NAME@alias`` URIs and the configured model directory stay: they are the
    settings the operator gave, and say what is being loaded.
    """
    return _URL.sub("<url>", text)[:500]


class RegistryUnavailable(TimeoutError):
    """The model registry did not answer in time."""


def bounded(call: Callable[[], Any], seconds: float | None) -> Any:
    """Run ``call`` in a daemon thread and wait at most ``seconds`` for it.

    Raises
    ------
    RegistryUnavailable
        ``call`` did not finish in time (it goes on in its thread, harmlessly).
    """
    if seconds is None:
        return call()
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:  # handed to the waiting caller
            future.set_exception(exc)

    threading.Thread(target=run, name="tarve-registry-call", daemon=True).start()
    try:
        return future.result(timeout=seconds)
    except TimeoutError as exc:
        if future.done():
            raise
        raise RegistryUnavailable(MSG_REGISTRY_TIMEOUT.format(seconds=seconds)) from exc


@dataclass(frozen=True)
class ModelSource:
    """Where a model version comes from: the URI to load and the version to report."""

    uri: str
    load_uri: str
    version: str | None
    alias: str | None
    identity: str
    expected_manifest_sha256: str | None = None


@dataclass(frozen=True)
class LoadedModel:
    """A served model with its request models, where it came from and when it was loaded."""

    model: ServiceNeedModel
    requests: RequestModels
    source: ModelSource
    directory: Path
    loaded_at: dt.datetime

    @property
    def name(self) -> str:
        """The registered model's name."""
        return self.model.name

    @property
    def version(self) -> str:
        """The version served (the registry's, else the model's, else its identity)."""
        return self.source.version or self.model.version or self.source.identity[:12]

    @property
    def alias(self) -> str | None:
        """The alias it was loaded through, if any."""
        return self.source.alias

    @property
    def fairness_audit_path(self) -> Path:
        """Where training put the model's fairness audit."""
        return self.directory / FAIRNESS_AUDIT_FILE

    @property
    def manifest_sha256(self) -> str | None:
        """The SHA-256 of the integrity manifest the served files matched."""
        return self.model.manifest_sha256

    @cached_property
    def model_ref_json(self) -> dict[str, Any]:
        """The response's ``model`` object (``ModelRef``), built once per loaded model."""
        return {"name": self.name, "version": self.version, "alias": self.alias}


def _manifest_digest(directory: Path) -> str:
    if (directory / INTEGRITY_FILE).is_file():
        return manifest_sha256(directory)
    import hashlib

    return hashlib.sha256((directory / MANIFEST).read_bytes()).hexdigest()


def locate(uri: str) -> ModelSource:
    """Find out which version ``uri`` names now, without loading it."""
    if uri.startswith(registry.MODELS_SCHEME):
        reference = registry.parse_models_uri(uri)
        if reference.alias is not None:
            version = registry.version_for_alias(reference.name, reference.alias)
            load_uri = registry.models_uri(reference.name, version)
            expected = _expected_manifest(reference.name, version)
            return ModelSource(uri, load_uri, version, reference.alias, version, expected)
        if reference.version and reference.version.isdigit():
            expected = _expected_manifest(reference.name, reference.version)
            return ModelSource(uri, uri, reference.version, None, reference.version, expected)
        return ModelSource(uri, uri, None, None, uri)
    if registry.is_mlflow_uri(uri):
        return ModelSource(uri, uri, None, None, uri)
    return ModelSource(uri, uri, None, None, _manifest_digest(Path(uri)))


def _expected_manifest(name: str, version: str) -> str | None:
    expected = registry.version_tags(name, version).get(TAG_MANIFEST_SHA256)
    if expected is None:
        logger.warning(
            "%s version %s has no %s tag: only the artifact's own manifest is checked",
            name,
            version,
            TAG_MANIFEST_SHA256,
        )
    return expected


def smoke_test(model: ServiceNeedModel, requests: RequestModels) -> None:
    """Raise ``ValueError`` unless the model predicts and explains a generated profile."""
    example = example_request(model.schema, client_ref="smoke-test")
    consents = example["consents"]
    profile = requests.single.model_validate(example).profile.model_dump()  # type: ignore[attr-defined]
    if not model.services:
        raise ValueError(MSG_SMOKE.format(problem="the model predicts no service"))
    suggestions = recommend(model, [profile], consents=consents, explain=True)[0]
    if len(suggestions) != len(model.services):
        raise ValueError(MSG_SMOKE.format(problem="not every service was ranked"))
    for suggestion in suggestions:
        if not (math.isfinite(suggestion.probability) and 0.0 <= suggestion.probability <= 1.0):
            raise ValueError(
                MSG_SMOKE.format(problem=f"probability for {suggestion.service!r} is not in [0, 1]")
            )
    matrix = model.encode_records([profile], consents=consents)
    raw = model.raw_scores(matrix, num_threads=1)
    per_field, base = model.contributions(matrix, num_threads=1)
    if not np.allclose(per_field.sum(axis=-1) + base, raw, atol=1e-6, rtol=0):
        raise ValueError(MSG_SMOKE.format(problem="contributions do not add up to the raw score"))
    # Several rows go through models.tree_scores (built now, not on a first batch): its
    # raw scores must be LightGBM's single-row ones, bit for bit.
    if not np.array_equal(model.raw_scores(np.vstack([matrix, matrix]), num_threads=1)[1:], raw):
        raise ValueError(MSG_SMOKE.format(problem="batch raw scores differ from LightGBM's"))
    if model.effects is not None:
        model.effects.tree_scores()


def load_version(
    source: ModelSource, *, batch_limit: int, registry_timeout: float | None = None
) -> LoadedModel:
    """Fetch, verify (hashes; LightGBM in a child), smoke-test; any failure raises."""
    directory = bounded(lambda: registry.resolve_model_uri(source.load_uri), registry_timeout)
    return load_directory(source, directory, batch_limit=batch_limit)


def load_directory(source: ModelSource, directory: Path, *, batch_limit: int) -> LoadedModel:
    """Verify and load a local artifact directory for ``source``; any failure raises."""
    model = load_model(
        directory, expected_manifest_sha256=source.expected_manifest_sha256, isolate=True
    )
    requests = build_request_models(model.schema, services=model.services, batch_limit=batch_limit)
    smoke_test(model, requests)
    return LoadedModel(model, requests, source, directory, dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: whether the served version changed, from which to which."""

    changed: bool
    previous_version: str | None
    version: str


class ModelHolder:
    """Holds the served :class:`LoadedModel` and swaps it atomically.

    Parameters
    ----------
    uri : str
        The model URI or directory to serve (reloads re-read it).
    batch_limit : int
        Passed to the generated batch request model.
    on_swap : callable, optional
        Called with the new model after every swap (metrics, OpenAPI cache).
    registry_timeout : float, optional
        Seconds any registry call (locate, download) may take; None: unbounded.
    local_copy : Path, optional
        Where the last verified model fetched from the registry is kept, to start from
        when the registry does not answer.
    """

    def __init__(
        self,
        uri: str,
        *,
        batch_limit: int,
        on_swap: Callable[[LoadedModel], None] | None = None,
        registry_timeout: float | None = None,
        local_copy: Path | None = None,
    ) -> None:
        self.uri = uri
        self.batch_limit = batch_limit
        self.on_swap = on_swap
        self.registry_timeout = registry_timeout
        self.local_copy = local_copy
        if registry_timeout is not None:
            # MLflow's own HTTP client retries for minutes by default; the holder retries.
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(math.ceil(registry_timeout)))
        self.last_error: str | None = None
        self.waiting_since: dt.datetime | None = None
        self.serving_local_copy = False
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def current(self) -> LoadedModel | None:
        """The served model, or None when none is loaded."""
        return self._current

    def get(self) -> LoadedModel:
        """Return the model to use for one whole request; 503 when there is none."""
        current = self._current
        if current is None:
            raise ModelUnavailable(self.unavailable_reason())
        return current

    def unavailable_reason(self) -> str:
        """Return why no model is served, fit for unauthenticated answers (no URLs, paths)."""
        if self.last_error:
            return public_reason(self.last_error)
        if self.waiting_since is not None:
            return MSG_WAITING.format(uri=self.uri, since=self.waiting_since.isoformat())
        return MSG_NO_MODEL

    def rejection_reason(self) -> str | None:
        """Return why the last load was refused (None after a success), without URLs."""
        return None if self.last_error is None else public_reason(self.last_error)

    def reload(self, *, force: bool = True) -> ReloadOutcome:
        """Load the version behind the URI now and swap it in.

        With ``force=False`` nothing is loaded when the version is the one served.

        Raises
        ------
        ModelRejected
            Locating, loading or smoke-testing failed; the old model keeps serving.
        """
        with self._lock:
            previous = self._current
            try:
                source = bounded(lambda: locate(self.uri), self.registry_timeout)
                if (
                    not force
                    and previous is not None
                    and previous.source == source
                    and not self.serving_local_copy
                ):
                    return ReloadOutcome(False, previous.version, previous.version)
                loaded = load_version(
                    source, batch_limit=self.batch_limit, registry_timeout=self.registry_timeout
                )
            except Exception as exc:
                self.last_error = f"model {self.uri!r} rejected: {type(exc).__name__}: {exc}"
                logger.error("%s", self.last_error)
                raise ModelRejected(public_reason(self.last_error)) from exc
            self._current = loaded
            self.last_error = None
            self.waiting_since = None
            self.serving_local_copy = False
            self._keep_local_copy(loaded)
        logger.info("serving model %s version %s from %s", loaded.name, loaded.version, self.uri)
        if self.on_swap is not None:
            self.on_swap(loaded)
        previous_version = previous.version if previous is not None else None
        return ReloadOutcome(True, previous_version, loaded.version)

    # -- the last verified local copy ----------------------------------------------------
    def _keep_local_copy(self, loaded: LoadedModel) -> None:
        """Copy a verified model that came from the registry to :attr:`local_copy`."""
        if self.local_copy is None or not registry.is_mlflow_uri(loaded.source.load_uri):
            return
        target = self.local_copy
        try:
            staging = target.with_name(target.name + ".staging")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(loaded.directory, staging)
            record = {
                "uri": loaded.source.uri,
                "load_uri": loaded.source.load_uri,
                "version": loaded.source.version,
                "alias": loaded.source.alias,
                "manifest_sha256": loaded.manifest_sha256,
            }
            (staging / LOCAL_COPY_SOURCE).write_text(json.dumps(record), "utf-8")
            old = target.with_name(target.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:  # serving goes on; only the fallback is missing
            logger.warning("could not keep a local copy of the model: %s", exc)

    def load_local_copy(self) -> bool:
        """Serve the last verified local copy (hashes checked again); False if none or bad."""
        if self.local_copy is None or not (self.local_copy / LOCAL_COPY_SOURCE).is_file():
            return False
        try:
            record = json.loads((self.local_copy / LOCAL_COPY_SOURCE).read_text("utf-8"))
            if record.get("uri") != self.uri:
                return False
            source = ModelSource(
                uri=self.uri,
                load_uri=str(record["load_uri"]),
                version=record.get("version"),
                alias=record.get("alias"),
                identity=str(record.get("version") or record["manifest_sha256"]),
                expected_manifest_sha256=str(record["manifest_sha256"]),
            )
            loaded = load_directory(source, self.local_copy, batch_limit=self.batch_limit)
            loaded = replace(loaded, source=source)
        except Exception as exc:
            logger.error("the local copy of the model is refused: %s", exc)
            return False
        with self._lock:
            if self._current is not None:
                return True
            self._current = loaded
            self.serving_local_copy = True
        logger.warning(
            "registry unavailable: serving the last verified local copy of %s version %s",
            loaded.name,
            loaded.version,
        )
        if self.on_swap is not None:
            self.on_swap(loaded)
        return True

    def start(self, *, retry_seconds: float, on_result: Callable[[str], Any]) -> None:
        """Load the model for the first time; on failure retry in a daemon thread.

        The first attempt runs now (bounded by the registry timeout). When it fails and
        a verified local copy exists, that copy serves while the registry is retried
        every ``retry_seconds`` until a load succeeds.
        """
        self.waiting_since = dt.datetime.now(dt.UTC)
        try:
            self.reload()
            on_result("loaded")
            return
        except ModelRejected:
            on_result("rejected")
        self.load_local_copy()
        self._stop.clear()

        def retry() -> None:
            while not self._stop.wait(retry_seconds):
                if self._current is not None and not self.serving_local_copy:
                    return
                try:
                    self.reload()
                    on_result("loaded")
                    return
                except ModelRejected:
                    on_result("rejected")
                except Exception:  # never let the thread die
                    logger.exception("model loading failed")

        threading.Thread(target=retry, name="tarve-model-start", daemon=True).start()

    def replace(self, loaded: LoadedModel) -> None:
        """Swap in an already loaded model (tests, embedding)."""
        with self._lock:
            self._current = loaded
            self.last_error = None
        if self.on_swap is not None:
            self.on_swap(loaded)

    # -- polling -----------------------------------------------------------------------
    def start_polling(self, interval_seconds: float, on_result: Callable[[str], Any]) -> None:
        """Check the URI every ``interval_seconds`` in a daemon thread; reload on change."""
        if self._poller is not None:
            return
        self._stop.clear()

        def poll() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    outcome = self.reload(force=False)
                    on_result("loaded" if outcome.changed else "unchanged")
                except ModelRejected:
                    on_result("rejected")
                except Exception:  # never let the poller die
                    logger.exception("model polling failed")

        self._poller = threading.Thread(target=poll, name="tarve-model-poller", daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        """Stop the polling thread, if one runs."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
            self._poller = None
