"""The HTML report renders in headless Chromium and the screenshot shows the summary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fairness import Policy, run_audit
from fairness.report_html import STATUS_COLOURS

from .conftest import Predictions

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
WIDTH, HEIGHT = 1280, 2000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)"
    ),
]


def _screenshot(page: Path, out: Path, profile: Path) -> Image.Image:
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    return Image.open(out).convert("RGB")


def _share_of_colour(pixels: np.ndarray, hex_colour: str, tolerance: int = 12) -> float:
    target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    close = np.abs(pixels.astype(int) - target).max(axis=-1) <= tolerance
    return float(close.mean())


def test_the_report_renders_with_the_verdict_on_top(
    biased_predictions: Predictions, tmp_path: Path
) -> None:
    data = biased_predictions
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=0),
        metadata={"name": "tarve-service-need", "version": "3"},
    )
    _, page = report.write(tmp_path / "report")
    image = _screenshot(page, tmp_path / "shot.png", tmp_path / "profile")
    assert image.size == (WIDTH, HEIGHT)
    pixels = np.asarray(image)
    summary = pixels[:420]  # the header and the verdict box
    assert _share_of_colour(summary, STATUS_COLOURS["fail"]) > 0.1, "no red verdict box"
    dark = (summary.max(axis=-1) < 90).mean()
    assert dark > 0.003, "no text in the summary area"
    assert (pixels.min(axis=-1) < 250).mean() > 0.05, "the page is blank"
