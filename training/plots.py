"""Plots logged with each run: calibration curves and global SHAP summaries per service.

Drawn with matplotlib's non-interactive Agg backend. SHAP values come from
``shap.TreeExplainer`` on a bounded sample of the test split, so the cost does not
grow with the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from models.model import ServiceNeedModel

CURVE_BINS = 10
SHAP_PLOT_SIZE = (9.0, 6.5)
"""Inches; at :data:`SHAP_PLOT_DPI` a 900x650 image whose labels read at 100 %."""
SHAP_PLOT_DPI = 100
SHAP_MAX_FIELDS = 15


def calibration_curve_plot(
    label: np.ndarray,
    systems: dict[str, np.ndarray],
    *,
    service: str,
    path: Path,
) -> Path:
    """Reliability diagram (mean score vs observed rate per quantile bin) for one service.

    Parameters
    ----------
    label : ndarray
        0/1 needs of the test split.
    systems : dict of str to ndarray
        Curve name (e.g. ``raw``, ``calibrated``) -> probabilities.
    service : str
        Title.
    path : Path
        PNG file to write.
    """
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    for name, probability in systems.items():
        order = np.argsort(probability, kind="stable")
        chunks = np.array_split(order, CURVE_BINS)
        mean_score = [float(probability[chunk].mean()) for chunk in chunks if chunk.size]
        observed = [float(label[chunk].mean()) for chunk in chunks if chunk.size]
        axis.plot(mean_score, observed, marker="o", label=name)
    axis.set_xlabel("mean predicted probability")
    axis.set_ylabel("observed need rate")
    axis.set_title(service)
    axis.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def shap_summary_plots(
    model: ServiceNeedModel,
    matrix: np.ndarray,
    *,
    directory: Path,
    services: Sequence[str] | None = None,
) -> list[Path]:
    """Draw a beeswarm and a bar plot of SHAP values per service on the rows of ``matrix``.

    ``shap_<service>.png`` is the beeswarm (each client a dot, colour the field value),
    ``shap_bar_<service>.png`` the mean |SHAP| per field; both 900x650 pixels, with the
    fields' English labels.

    Parameters
    ----------
    model : ServiceNeedModel
        The fitted model.
    matrix : ndarray
        Encoded sample rows (already bounded by the caller).
    directory : Path
        Where the PNG files are written.
    services : sequence of str, optional
        Defaults to every service of the model.
    """
    import shap

    names = [spec.label.get("en") for spec in model.encoder.fields]
    features = pd.DataFrame(matrix, columns=names)
    paths = []
    for service in services or model.services:
        explainer = shap.TreeExplainer(model.boosters[service])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            values = np.asarray(explainer.shap_values(features))
        if values.ndim == 3:  # some shap versions return one array per class
            values = values[..., -1]
        for kind, name in (("dot", f"shap_{service}.png"), ("bar", f"shap_bar_{service}.png")):
            plt.figure()
            shap.summary_plot(
                values,
                features,
                plot_type=kind,
                show=False,
                max_display=SHAP_MAX_FIELDS,
                plot_size=SHAP_PLOT_SIZE,
            )
            what = "SHAP value per client" if kind == "dot" else "mean |SHAP value|"
            plt.title(f"{service}: {what} (log-odds)")
            path = directory / name
            plt.tight_layout()
            plt.savefig(path, dpi=SHAP_PLOT_DPI)
            plt.close("all")
            paths.append(path)
    return paths


def calibration_plots(
    services: Sequence[str],
    test_labels: np.ndarray,
    curves: dict[str, np.ndarray],
    *,
    directory: Path,
) -> list[Path]:
    """``calibration_<service>.png`` for every service (curves: name -> rows x services)."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        calibration_curve_plot(
            test_labels[:, column],
            {name: values[:, column] for name, values in curves.items()},
            service=service,
            path=directory / f"calibration_{service}.png",
        )
        for column, service in enumerate(services)
    ]


@dataclass(frozen=True)
class ShapPlotTask:
    """What the SHAP plots need, small enough to send to another process."""

    model_dir: Path
    directory: Path
    rows: np.ndarray


def render_shap_plots(task: ShapPlotTask) -> list[Path]:
    """Load the model from ``task.model_dir`` and draw its SHAP summaries (child process)."""
    from models.model import load_model

    task.directory.mkdir(parents=True, exist_ok=True)
    return shap_summary_plots(load_model(task.model_dir), task.rows, directory=task.directory)
