"""The HTML report in headless Chromium: the verdict on top, nothing wider than the page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fairness import Policy, render_html, run_audit, write_report
from fairness.report_html import STATUS_COLOURS

from .conftest import Predictions, simulate

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
WIDTH, HEIGHT = 1280, 2000
AUDITOR_WIDTH = 1400
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Opens every folded section, then measures: the page's width, and every table, chart
# and scroll box against its container. Only the test's copy of the page has a script.
MEASURE = """
<script>
document.querySelectorAll('details').forEach(d => { d.open = true; });
const wider = [];
for (const el of document.querySelectorAll('table, svg, figure, .fit, .map, .charts > div')) {
  const parent = el.parentElement;
  const width = el.getBoundingClientRect().width;
  if (width > parent.clientWidth + 1 || el.scrollWidth > el.clientWidth + 1) {
    wider.push(`${el.tagName}.${el.className.baseVal ?? el.className} ${Math.round(width)}`
      + ` > ${parent.clientWidth} (scroll ${el.scrollWidth})`);
  }
}
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  wider: wider,
  tables: document.querySelectorAll('table').length,
});
document.body.appendChild(out);
</script>
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)"
    ),
]


def _chromium(*args: str, profile: Path) -> str:
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def _screenshot(page: Path, out: Path, profile: Path) -> Image.Image:
    _chromium(
        f"--screenshot={out}",
        f"--window-size={WIDTH},{HEIGHT}",
        page.resolve().as_uri(),
        profile=profile,
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
    _, page = write_report(report, tmp_path / "report")
    image = _screenshot(page, tmp_path / "shot.png", tmp_path / "profile")
    assert image.size == (WIDTH, HEIGHT)
    pixels = np.asarray(image)
    summary = pixels[:560]  # the header, the contents list and the verdict box
    assert _share_of_colour(summary, STATUS_COLOURS["fail"]) > 0.05, "no red verdict box"
    dark = (summary.max(axis=-1) < 90).mean()
    assert dark > 0.003, "no text in the summary area"
    assert (pixels.min(axis=-1) < 250).mean() > 0.05, "the page is blank"


SERVICES = tuple(f"service_{i:02d}" for i in range(14))


def _crowded_audit() -> Any:
    """Many services with long names, attributes with many values: a crowded report."""
    data = simulate(6000, seed=11, services=SERVICES)
    rng = np.random.default_rng(5)
    data.groups["mother_tongue"] = rng.choice(
        ["Finnish", "Swedish", "Russian", "Estonian", "Arabic", "Somali", "other languages"],
        len(data.groups),
    )
    data.groups["region"] = rng.choice([f"region number {i}" for i in range(6)], len(data.groups))
    names = {
        service: {
            "fi": f"Pitkä palvelun nimi numero {i} työllisyyspalveluista",
            "sv": f"Ett långt tjänstenamn nummer {i}",
            "en": f"A long public employment service name number {i}",
        }
        for i, service in enumerate(SERVICES)
    }
    return run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=0),
        service_labels=names,
        metadata={"name": "crowded", "version": "1"},
    )


@pytest.mark.parametrize("lang", ["en", "fi"])
def test_nothing_overflows_at_1400_px(tmp_path: Path, lang: str) -> None:
    page = render_html(_crowded_audit(), lang=lang)
    assert "<script" not in page
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(page.replace("</body>", MEASURE + "</body>"), "utf-8")
    dom = _chromium(
        "--dump-dom",
        f"--window-size={AUDITOR_WIDTH},1000",
        measured_page.resolve().as_uri(),
        profile=tmp_path / "profile",
    )
    found = re.search(r"<pre id=\"measured\">(.*?)</pre>", dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(found.group(1).replace("&gt;", ">").replace("&amp;", "&"))
    assert result["tables"] >= 16  # every service, the findings, allocation, suppressed
    assert result["scrollWidth"] <= AUDITOR_WIDTH
    assert result["wider"] == []
