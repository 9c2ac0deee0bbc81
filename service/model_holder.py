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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from models import registry
from models.artifact import MANIFEST
from models.model import ServiceNeedModel, load_model
from models.recommend import recommend
from service.problems import ModelRejected, ModelUnavailable
from service.request_model import RequestModels, build_request_models, example_request

logger = logging.getLogger("service.model_holder")
FAIRNESS_AUDIT_FILE = "fairness_audit.json"
MSG_NO_MODEL = "no model has been loaded yet"
MSG_SMOKE = "smoke prediction failed: {problem}"


@dataclass(frozen=True)
class ModelSource:
    """Where a model version comes from: the URI to load and the version to report."""

    uri: str
    load_uri: str
    version: str | None
    alias: str | None
    identity: str


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

    @cached_property
    def model_ref_json(self) -> dict[str, Any]:
        """The response's ``model`` object (``ModelRef``), built once per loaded model."""
        return {"name": self.name, "version": self.version, "alias": self.alias}


def _manifest_digest(directory: Path) -> str:
    return hashlib.sha256((directory / MANIFEST).read_bytes()).hexdigest()


def locate(uri: str) -> ModelSource:
    """Find out which version ``uri`` names now, without loading it."""
    if uri.startswith(registry.MODELS_SCHEME):
        reference = registry.parse_models_uri(uri)
        if reference.alias is not None:
            version = registry.version_for_alias(reference.name, reference.alias)
            load_uri = registry.models_uri(reference.name, version)
            return ModelSource(uri, load_uri, version, reference.alias, version)
        if reference.version and reference.version.isdigit():
            return ModelSource(uri, uri, reference.version, None, reference.version)
        return ModelSource(uri, uri, None, None, uri)
    if registry.is_mlflow_uri(uri):
        return ModelSource(uri, uri, None, None, uri)
    return ModelSource(uri, uri, None, None, _manifest_digest(Path(uri)))


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


def load_version(source: ModelSource, *, batch_limit: int) -> LoadedModel:
    """Load, build the request models, smoke-test; any failure raises."""
    directory = registry.resolve_model_uri(source.load_uri)
    model = load_model(directory)
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
    """

    def __init__(
        self,
        uri: str,
        *,
        batch_limit: int,
        on_swap: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self.uri = uri
        self.batch_limit = batch_limit
        self.on_swap = on_swap
        self.last_error: str | None = None
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
        """Return why no model is served (the last load error, if any)."""
        return self.last_error or MSG_NO_MODEL

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
                source = locate(self.uri)
                if not force and previous is not None and previous.source == source:
                    return ReloadOutcome(False, previous.version, previous.version)
                loaded = load_version(source, batch_limit=self.batch_limit)
            except Exception as exc:
                self.last_error = f"model {self.uri!r} rejected: {type(exc).__name__}: {exc}"
                logger.error("%s", self.last_error)
                raise ModelRejected(self.last_error) from exc
            self._current = loaded
            self.last_error = None
        logger.info("serving model %s version %s from %s", loaded.name, loaded.version, self.uri)
        if self.on_swap is not None:
            self.on_swap(loaded)
        previous_version = previous.version if previous is not None else None
        return ReloadOutcome(True, previous_version, loaded.version)

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
