"""The served feed, watched: a rolling window of request profiles against the training profile.

Every recommendation's profile (as the model saw it: fields of sources the client did
not consent to are missing, the consent flags set from the request's consents) enters a
window of the last ``window_size`` profiles (policy file of :mod:`models.drift`). On a
``/metrics`` scrape or a ``GET /v1/model`` the window is compared with the served
model's reference profile (at most once a second) and exported as gauges:
``tarve_feed_drift_psi{field}``, ``tarve_feed_drift_js_distance{field}``,
``tarve_feed_missing_share{field}``, ``tarve_feed_guard_passed`` and
``tarve_feed_window_profiles``. Nothing of a profile leaves the process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from models.drift import (
    DriftPolicy,
    DriftReport,
    ProfileAccumulator,
    ReferenceProfile,
    compare_profiles,
    load_drift_policy,
    read_reference,
)
from models.schema import Schema

REFRESH_SECONDS = 1.0


class FeedDriftWatch(Collector):
    """The rolling window and its comparison with the reference, as a Prometheus collector.

    Parameters
    ----------
    registry : CollectorRegistry
        Where the gauges are exported.
    policy : DriftPolicy, optional
        Thresholds and window size (default: the built-in policy).
    """

    def __init__(self, registry: CollectorRegistry, policy: DriftPolicy | None = None) -> None:
        self.policy = policy or load_drift_policy()
        self._lock = threading.Lock()
        self._window: deque[dict[str, Any]] = deque(maxlen=self.policy.window_size)
        self._reference: ReferenceProfile | None = None
        self._accumulator: ProfileAccumulator | None = None
        self._consent_columns: dict[str, str] = {}
        self._report: DriftReport | None = None
        self._computed_at = 0.0
        self._seen_at_compute = -1
        self._seen = 0
        registry.register(self)

    def use_model(self, schema: Schema, directory: Path) -> None:
        """Watch against this model's reference (a new model starts an empty window)."""
        reference = read_reference(directory)
        with self._lock:
            self._window.clear()
            self._report, self._seen, self._seen_at_compute = None, 0, -1
            self._reference = reference
            self._accumulator = (
                ProfileAccumulator(reference, schema) if reference is not None else None
            )
            self._consent_columns = dict(reference.consent_columns) if reference else {}

    def observe(
        self, profiles: Sequence[Mapping[str, Any]], consents: Sequence[Iterable[str]]
    ) -> None:
        """Add served profiles (with each client's consents) to the window."""
        if self._accumulator is None:
            return
        for profile, granted in zip(profiles, consents, strict=True):
            given = set(granted)
            record = dict(profile)
            for source, column in self._consent_columns.items():
                record[column] = source in given
            self._window.append(record)
        self._seen += len(profiles)

    def report(self) -> DriftReport | None:
        """Compare the window with the reference (None until ``min_values`` profiles)."""
        with self._lock:
            if self._accumulator is None or self._reference is None:
                return None
            fresh = time.monotonic() - self._computed_at < REFRESH_SECONDS
            if self._seen == self._seen_at_compute or (fresh and self._report is not None):
                return self._report
            window = list(self._window)
            if len(window) < self.policy.min_values:
                return None
            frame = pd.DataFrame.from_records(window)
            for source, column in self._consent_columns.items():
                hidden = ~frame[column].astype(bool)
                for name in (
                    self._reference.sources[source].fields
                    if source in self._reference.sources
                    else []
                ):
                    if name in frame.columns:
                        frame.loc[hidden, name] = None
            observed = self._accumulator.profile_of(frame)
            self._report = compare_profiles(self._reference, observed, self.policy)
            self._computed_at, self._seen_at_compute = time.monotonic(), self._seen
            return self._report

    def summary(self) -> dict[str, Any] | None:
        """Return the latest drift summary for ``/v1/model`` (None without a reference)."""
        if self._reference is None:
            return None
        report = self.report()
        if report is None:
            return {"window_profiles": len(self._window), "status": "collecting"}
        return {"window_profiles": len(self._window), "status": "compared", **report.summary()}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the gauges (called by the Prometheus client on every scrape)."""
        window = GaugeMetricFamily(
            "tarve_feed_window_profiles", "Served profiles in the drift window."
        )
        window.add_metric([], len(self._window))
        yield window
        report = self.report()
        if report is None:
            return
        passed = GaugeMetricFamily(
            "tarve_feed_guard_passed", "1 when the window passes the feed guard's policy."
        )
        passed.add_metric([], 1.0 if report.passed else 0.0)
        yield passed
        psi = GaugeMetricFamily(
            "tarve_feed_drift_psi", "PSI of each field: window vs training.", labels=["field"]
        )
        js = GaugeMetricFamily(
            "tarve_feed_drift_js_distance",
            "Jensen-Shannon distance of each field: window vs training.",
            labels=["field"],
        )
        missing = GaugeMetricFamily(
            "tarve_feed_missing_share",
            "Missing share of each field in the window.",
            labels=["field"],
        )
        for name, drift in report.fields.items():
            if drift.psi is not None:
                psi.add_metric([name], drift.psi)
            if drift.js_distance is not None:
                js.add_metric([name], drift.js_distance)
            missing.add_metric([name], drift.missing_share)
        yield psi
        yield js
        yield missing
