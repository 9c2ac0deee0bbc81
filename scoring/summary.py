"""The run's summary: printed at the end and written as a JSON sidecar next to the output."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from models.effects import CODE_ESTIMATED, STATUSES, BenefitTable
from models.ranking import RankedFrame

HISTOGRAM_BINS = 1000
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


class ServiceCounts(BaseModel):
    """Per service: how many clients were recommended it, and its probability distribution."""

    clients: int = 0
    recommended: int = 0
    eligible: int = 0
    probability_sum: float = 0.0
    histogram: list[int] = Field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    benefit_estimated: int = 0
    benefit_sum: float = 0.0
    benefit_statuses: dict[str, int] = Field(default_factory=dict)

    def merge(self, other: ServiceCounts) -> None:
        """Add another chunk's counts."""
        self.benefit_estimated += other.benefit_estimated
        self.benefit_sum += other.benefit_sum
        for status, count in other.benefit_statuses.items():
            self.benefit_statuses[status] = self.benefit_statuses.get(status, 0) + count
        self.clients += other.clients
        self.recommended += other.recommended
        self.eligible += other.eligible
        self.probability_sum += other.probability_sum
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]

    def describe(self) -> dict[str, Any]:
        """Describe the counts, mean and quantiles (to 0.001) of the probability."""
        counts = np.asarray(self.histogram)
        cumulative = np.cumsum(counts)
        quantiles = {}
        for q in QUANTILES:
            position = int(np.searchsorted(cumulative, q * max(self.clients, 1), side="left"))
            quantiles[f"p{round(q * 100)}"] = round((position + 0.5) / HISTOGRAM_BINS, 4)
        deciles = counts.reshape(10, -1).sum(axis=1).tolist()
        return {
            "clients": self.clients,
            "recommended": self.recommended,
            "recommended_share": self.recommended / self.clients if self.clients else None,
            "eligible": self.eligible,
            "mean_probability": self.probability_sum / self.clients if self.clients else None,
            "probability_quantiles": quantiles,
            "probability_deciles": deciles,
            "benefit_estimated": self.benefit_estimated,
            "mean_benefit": self.benefit_sum / self.benefit_estimated
            if self.benefit_estimated
            else None,
            "benefit_statuses": dict(sorted(self.benefit_statuses.items())),
        }


def chunk_counts(
    services: list[str], ranked: RankedFrame, benefit: BenefitTable | None = None
) -> dict[str, ServiceCounts]:
    """Per-service counts of one chunk (every client, whatever ``top_k`` keeps).

    With ``benefit`` (the chunk's benefit table, in ``services`` order) the counts also
    hold how many clients have an estimate, their sum, and the count of each status.
    """
    counts: dict[str, ServiceCounts] = {}
    for column, service in enumerate(services):
        values = ranked.probability[:, column]
        bins = np.clip((values * HISTOGRAM_BINS).astype(np.int64), 0, HISTOGRAM_BINS - 1)
        benefit_counts: dict[str, object] = {}
        if benefit is not None:
            codes = benefit.status_code[:, column]
            estimated = codes == CODE_ESTIMATED
            numbers = np.bincount(codes, minlength=len(STATUSES))
            benefit_counts = {
                "benefit_estimated": int(estimated.sum()),
                "benefit_sum": float(benefit.estimate[estimated, column].sum()),
                "benefit_statuses": {
                    status: int(n) for status, n in zip(STATUSES, numbers, strict=True) if n
                },
            }
        counts[service] = ServiceCounts(
            **benefit_counts,  # type: ignore[arg-type]
            clients=len(values),
            recommended=int(ranked.recommended[:, column].sum()),
            eligible=int(ranked.eligible[:, column].sum()),
            probability_sum=float(values.sum()),
            histogram=np.bincount(bins, minlength=HISTOGRAM_BINS).tolist(),
        )
    return counts


def merge_counts(total: dict[str, ServiceCounts], part: dict[str, ServiceCounts]) -> None:
    """Add ``part`` into ``total``."""
    for service, counts in part.items():
        if service in total:
            total[service].merge(counts)
        else:
            total[service] = counts.model_copy(deep=True)


class ScoreSummary(BaseModel):
    """What a ``tarve score`` run did (the JSON sidecar)."""

    output: str
    output_format: str
    rows: int
    output_rows: int
    model: dict[str, Any]
    extract: dict[str, Any]
    feed_guard: dict[str, Any]
    options: dict[str, Any]
    services: dict[str, dict[str, Any]]
    started_at: str
    seconds: float
    rows_per_second: float
    chunks: int
    chunks_resumed: int
    backend: str = "local"


def render_summary(summary: ScoreSummary) -> str:
    """Render a few lines for the terminal."""
    lines = [
        f"scored {summary.rows:,} clients in {summary.seconds:.1f} s "
        f"({summary.rows_per_second:,.0f} rows/s) -> {summary.output}",
        f"model {summary.model.get('name')} version {summary.model.get('version')}; "
        f"extract {summary.extract.get('fingerprint', '')[:19]}...; feed guard "
        + (
            "passed"
            if summary.feed_guard.get("passed")
            else "FAILED, accepted: " + str(summary.feed_guard.get("accepted_reason"))
        ),
        f"{'service':<28} {'recommended':>12} {'share':>7} {'mean p':>7} {'median p':>9}",
    ]
    with_benefit = any(counts.get("benefit_estimated") for counts in summary.services.values())
    if with_benefit:
        lines[-1] += f" {'estimable':>10} {'mean benefit':>13}"
    for service, counts in summary.services.items():
        share = counts["recommended_share"] or 0.0
        line = (
            f"{service:<28} {counts['recommended']:>12,} {100 * share:6.1f}% "
            f"{counts['mean_probability'] or 0:7.3f} {counts['probability_quantiles']['p50']:9.3f}"
        )
        if with_benefit:
            mean = counts.get("mean_benefit")
            shown = "-" if mean is None else f"{mean:+.3f}"
            line += f" {counts.get('benefit_estimated', 0):>10,} {shown:>13}"
        lines.append(line)
    return "\n".join(lines)
