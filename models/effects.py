"""Effect models: what receiving a service is estimated to change in the outcome.

Need and benefit are different numbers. The need models say how likely a client needs
a service; the effect models estimate, per service, the change in the probability of
being employed or in education within six months if the client receives the service
instead of no service (a conditional average treatment effect learned from the service
history; see ``docs/effects.md``).

Per service the artifact holds a final stage, the common-support bounds on the propensity,
and an interval table: the doubly robust average effect, with its confidence interval,
among clients whose estimate fell in the same band. A shared propensity model (any
service at all, then which one) says whether a client lies inside common support;
outside it, or when the client is not eligible, the answer is "not estimable" and why.

A final stage is one of two kinds:

- ``index`` (the default of ``tarve train``): the service shifts the log-odds of the
  outcome by ``shift + need_gain * need``, where the need for the service and the
  baseline chance without any service are LightGBM models of the register fields
  (:mod:`models.effect_index`);
- ``trees``: a LightGBM regressor on the register fields whose raw score *is* the
  estimated benefit, in probability points.

On disk (a folder ``effects/`` inside the model artifact)::

    effects.json          services, arms, bounds, interval tables, averages, metadata
    propensity_activation.txt   binary LightGBM: did the client receive any service
    propensity_choice.txt       multiclass LightGBM: which service, among those who got one
    baseline.txt          binary LightGBM: the outcome without any service (index stages)
    need_index/<service>.txt   binary LightGBM: the need for the service (index stages)
    final/<service>.txt   the final-stage LightGBM regressor (trees stages)

Loading reads LightGBM text and JSON only; nothing is unpickled.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.effect_index import index_attributions, index_effect
from models.features import FeatureEncoder
from models.rules import evaluate_rule
from models.schema import Schema
from models.tree_scores import TreeScores, has_normal_output, normal_output, scores_for

EFFECTS_DIR = "effects"
EFFECTS_MANIFEST = "effects.json"
ACTIVATION_FILE = "propensity_activation.txt"
CHOICE_FILE = "propensity_choice.txt"
FINAL_DIR = "final"
BASELINE_FILE = "baseline.txt"
NEED_INDEX_DIR = "need_index"
EFFECTS_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
"""Version 1 artifacts hold trees stages only."""
STAGE_INDEX = "index"
STAGE_TREES = "trees"
FINAL_STAGES = (STAGE_INDEX, STAGE_TREES)

STATUS_ESTIMATED = "estimated"
STATUS_NOT_ELIGIBLE = "not_eligible"
STATUS_OUTSIDE_SUPPORT = "outside_common_support"
STATUS_NO_MODEL = "no_effect_model"
STATUSES = (STATUS_ESTIMATED, STATUS_NOT_ELIGIBLE, STATUS_OUTSIDE_SUPPORT, STATUS_NO_MODEL)
CODE_ESTIMATED, CODE_NOT_ELIGIBLE, CODE_OUTSIDE_SUPPORT, CODE_NO_MODEL = range(len(STATUSES))
"""A status as its position in :data:`STATUSES` (what :class:`BenefitTable` stores)."""

NOT_ESTIMABLE_TEXT: dict[str, dict[str, str]] = {
    STATUS_NOT_ELIGIBLE: {
        "fi": "asiakas ei täytä palvelun ehtoja",
        "sv": "klienten uppfyller inte tjänstens villkor",
        "en": "the client does not meet the service's eligibility rule",
    },
    STATUS_OUTSIDE_SUPPORT: {
        "fi": "historiassa on liian vähän vastaavia asiakkaita, jotka saivat tai eivät "
        "saaneet palvelua",
        "sv": "historiken har för få jämförbara klienter som fick eller inte fick tjänsten",
        "en": "too few comparable clients in the history received (or did not receive) "
        "this service",
    },
    STATUS_NO_MODEL: {
        "fi": "palvelusta ei ole tarpeeksi historiaa vaikutuksen arvioimiseen",
        "sv": "tjänsten har för lite historik för en effektskattning",
        "en": "the history holds too few clients who received this service",
    },
}
"""Why a benefit is not estimable, in the caller's language."""

MSG_NOT_EFFECTS = "{path} holds no effect models (no {manifest})"
MSG_EFFECTS_FORMAT = "{path}: effect format version {found} is not supported (expected {expected})"
MSG_EFFECTS_FEATURES = (
    "{path}: the effect models' feature names do not match the schema's model inputs"
)
MSG_UNKNOWN_SERVICE = "no effect model for service {service!r}; the effect models have {services}"
MSG_ONE_STAGE = "service {service!r}: give exactly one final stage (a booster or an index stage)"
MSG_NO_BASELINE = "index final stages need the baseline outcome model (baseline=)"


@dataclass(frozen=True)
class IntervalBand:
    """Clients whose estimated benefit is at most ``upper_edge`` (and above the band below).

    ``mean``, ``lower`` and ``upper`` are the doubly robust average effect of these
    clients and its confidence interval, from out-of-fold estimates.
    """

    upper_edge: float
    mean: float
    lower: float
    upper: float
    clients: int

    def to_dict(self) -> dict[str, float | int | None]:
        """Return the band as JSON-ready numbers."""
        return {
            "upper_edge": self.upper_edge if np.isfinite(self.upper_edge) else None,
            "mean": self.mean,
            "lower": self.lower,
            "upper": self.upper,
            "clients": self.clients,
        }


@dataclass(frozen=True)
class IndexStage:
    """An index final stage: effect ``sigmoid(L + shift + need_gain * need) - sigmoid(L)``.

    ``need_model`` is the binary LightGBM of the recorded need for the service
    (``need = sigmoid(raw score)``); ``L`` is the shared baseline model's raw score.
    """

    shift: float
    need_gain: float
    need_model: lgb.Booster


@dataclass
class ServiceEffect:
    """One service's served effect model.

    Parameters
    ----------
    service : str
        The service (label name).
    booster : lightgbm.Booster or None
        A trees final stage: a regressor whose raw score is the estimated benefit.
    support : tuple of float
        Lower and upper bound of the propensity ``P(service | x, service or none)`` inside
        which an estimate is given.
    bands : list of IntervalBand
        The interval table, sorted by ``upper_edge`` (the last edge is infinite).
    summary : dict
        Average effect with its interval, sensitivity figures, counts (JSON-ready).
    index : IndexStage or None
        An index final stage (then ``booster`` is None).
    """

    service: str
    booster: lgb.Booster | None
    support: tuple[float, float]
    bands: list[IntervalBand]
    summary: dict[str, Any] = field(default_factory=dict)
    index: IndexStage | None = None

    def __post_init__(self) -> None:
        """Refuse an effect with no final stage or with both kinds; index the bands."""
        if (self.booster is None) == (self.index is None):
            raise ValueError(MSG_ONE_STAGE.format(service=self.service))
        self._edges = np.array([band.upper_edge for band in self.bands[:-1]])
        self._lower = np.array([band.lower for band in self.bands])
        self._upper = np.array([band.upper for band in self.bands])

    @property
    def final_stage(self) -> str:
        """``index`` or ``trees``."""
        return STAGE_TREES if self.index is None else STAGE_INDEX

    @property
    def scored_booster(self) -> lgb.Booster:
        """The booster whose raw score the estimate is computed from."""
        booster = self.booster if self.index is None else self.index.need_model
        assert booster is not None
        return booster

    def estimate(self, raw: np.ndarray, baseline: np.ndarray | None) -> np.ndarray:
        """Turn :attr:`scored_booster`'s raw scores (and the baseline's) into estimates."""
        if self.index is None:
            return raw
        assert baseline is not None
        return index_effect(self.index.shift, self.index.need_gain, raw, baseline)

    def interval(self, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper interval bound for each estimate, from the interval table."""
        index = np.searchsorted(self._edges, estimate, side="left")
        return self._lower[index], self._upper[index]


@dataclass
class PropensityModel:
    """``P(arm | x)`` as P(any service | x) times P(which service | x, any service).

    Parameters
    ----------
    activation : lightgbm.Booster
        Binary: the client received some service.
    choice : lightgbm.Booster
        Multiclass over ``arms[1:]``, fitted on clients who received a service.
    arms : list of str
        The control first, then the services in the choice model's class order.
    """

    activation: lgb.Booster
    choice: lgb.Booster
    arms: list[str]

    def arm_probability(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """``P(arm | x)``, shape (rows, arms); rows sum to one."""
        params = _thread_params(num_threads)
        any_service = np.asarray(self.activation.predict(matrix, **params))
        which = np.asarray(self.choice.predict(matrix, **params)).reshape(
            len(matrix), len(self.arms) - 1
        )
        return self.combine(any_service, which)

    @staticmethod
    def combine(any_service: np.ndarray, which: np.ndarray) -> np.ndarray:
        """``P(arm | x)`` from P(any service) (rows,) and P(which | any) (rows, arms - 1)."""
        return np.column_stack([1.0 - any_service, any_service[:, None] * which])


@dataclass(frozen=True)
class BenefitTable:
    """Estimated benefits for many clients, shape (rows, services) each.

    ``status_code`` (int8) holds each status as its position in :data:`STATUSES`
    (:attr:`status` gives the names); ``estimate``, ``lower`` and ``upper`` are NaN
    where the status is not ``estimated``.
    """

    services: list[str]
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    status_code: np.ndarray
    propensity: np.ndarray

    @property
    def status(self) -> np.ndarray:
        """The status names (object array), shape (rows, services)."""
        names: np.ndarray = np.asarray(STATUSES, dtype=object)[self.status_code]
        return names

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """Return the table as columns, four per service ``s``.

        ``benefit_<s>``, ``benefit_lower_<s>``, ``benefit_upper_<s>``, ``benefit_status_<s>``.
        """
        columns: dict[str, Any] = {}
        for column, service in enumerate(self.services):
            columns[f"benefit_{service}"] = self.estimate[:, column]
            columns[f"benefit_lower_{service}"] = self.lower[:, column]
            columns[f"benefit_upper_{service}"] = self.upper[:, column]
            columns[f"benefit_status_{service}"] = self.status[:, column]
        return pd.DataFrame(columns, index=index)


def eligibility_matrix(schema: Schema, frame: pd.DataFrame, services: Sequence[str]) -> np.ndarray:
    """Each service's eligibility rule evaluated on ``frame``, shape (rows, services)."""
    columns = []
    for service in services:
        label = schema.label_by_name[service]
        if label.eligibility is None:
            columns.append(np.ones(len(frame), dtype=bool))
        else:
            columns.append(np.asarray(evaluate_rule(label.eligibility.rule, frame), dtype=bool))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0), dtype=bool)


class ServiceEffectModels:
    """Per-service benefit estimates with intervals, common support and TreeSHAP reasons.

    Parameters
    ----------
    schema : Schema
        The input schema (features come from :class:`models.features.FeatureEncoder`).
    propensity : PropensityModel
        Which arm (no service, or a service) a client is likely to have received.
    effects : dict of str to ServiceEffect
        The services that have an effect model.
    services : list of str
        Every service the schema lists (those without a model answer ``no_effect_model``).
    metadata : dict
        Method, parameters, training date and evaluation figures (JSON-ready).
    baseline : lightgbm.Booster or None
        Binary LightGBM of the outcome without any service; index stages need it.
    """

    def __init__(
        self,
        *,
        schema: Schema,
        propensity: PropensityModel,
        effects: Mapping[str, ServiceEffect],
        services: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        baseline: lgb.Booster | None = None,
    ) -> None:
        if baseline is None and any(e.index is not None for e in effects.values()):
            raise ValueError(MSG_NO_BASELINE)
        self.schema = schema
        self.baseline = baseline
        self.encoder = FeatureEncoder(schema)
        self.propensity = propensity
        self.arms = list(propensity.arms)
        known = [label.name for label in schema.labels]
        self.services: list[str] = [s for s in (services or known) if s in known]
        for service in effects:
            if service not in self.services:
                raise ValueError(MSG_UNKNOWN_SERVICE.format(service=service, services=known))
        self.effects = {s: effects[s] for s in self.services if s in effects}
        self.metadata: dict[str, Any] = dict(metadata or {})
        effects_list = list(self.effects.values())
        self._effect_columns = [self.services.index(e.service) for e in effects_list]
        self._index_mask = np.array([e.index is not None for e in effects_list], dtype=bool)
        self._shift = np.array([e.index.shift for e in effects_list if e.index is not None])
        self._gain = np.array([e.index.need_gain for e in effects_list if e.index is not None])
        self._scores: TreeScores | None = None
        self._scores_tried = False
        self._scores_lock = threading.Lock()
        field_index = {name: i for i, name in enumerate(self.encoder.feature_names)}
        self._feature_to_field = np.zeros((len(field_index), len(field_index)))
        for feature, name in enumerate(self.encoder.feature_to_field):
            self._feature_to_field[feature, field_index[name]] = 1.0

    # -- prediction --------------------------------------------------------------------
    def tree_scores(self) -> TreeScores | None:
        """All effect boosters in one :class:`~models.tree_scores.TreeScores` (built once).

        In order: the activation model, the choice model, the baseline model (if any),
        each effect's :attr:`ServiceEffect.scored_booster` in :attr:`effects` order. None
        where the kernel cannot take them (``predict`` then).
        """
        if not self._scores_tried:
            with self._scores_lock:
                if not self._scores_tried:
                    boosters = [self.propensity.activation, self.propensity.choice]
                    boosters += [] if self.baseline is None else [self.baseline]
                    boosters += [effect.scored_booster for effect in self.effects.values()]
                    scores = scores_for(boosters)
                    if scores is not None and all(
                        has_normal_output(objective) for objective in scores.objectives[:2]
                    ):
                        self._scores = scores
                    self._scores_tried = True
        return self._scores

    def _predictions(
        self, matrix: np.ndarray, *, num_threads: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``P(arm | x)`` and every row's estimate of every service, (rows, services).

        NaN for a service without an effect model. Through :meth:`tree_scores` (one
        pass, bit-identical raw scores) where it can, else each booster's ``predict``.
        """
        scores = self.tree_scores()
        baseline: np.ndarray | None = None
        if scores is None:
            params = _thread_params(num_threads)
            arm_probability = self.propensity.arm_probability(matrix, num_threads=num_threads)
            raw = np.zeros((len(matrix), len(self.effects)))
            for position, effect in enumerate(self.effects.values()):
                raw[:, position] = effect.scored_booster.predict(matrix, raw_score=True, **params)
            if self.baseline is not None:
                baseline = np.asarray(self.baseline.predict(matrix, raw_score=True, **params))
        else:
            passed = scores.raw(matrix, num_threads=num_threads)
            activation, choice = scores.columns[0], scores.columns[1]
            any_service = normal_output(passed[:, activation], scores.objectives[0])[:, 0]
            which = normal_output(passed[:, choice], scores.objectives[1])
            arm_probability = PropensityModel.combine(any_service, which)
            first = 2 if self.baseline is None else 3
            if self.baseline is not None:
                baseline = passed[:, scores.columns[2].start]
            starts = [scores.columns[first + i].start for i in range(len(self.effects))]
            raw = passed[:, starts]
        return arm_probability, self._estimates(raw, baseline)

    def _estimates(self, raw: np.ndarray, baseline: np.ndarray | None) -> np.ndarray:
        """Estimates (rows, services) from the effects' raw scores (rows, effects)."""
        values = np.array(raw, dtype=np.float64)
        if self._index_mask.any():
            assert baseline is not None
            values[:, self._index_mask] = index_effect(
                self._shift, self._gain, raw[:, self._index_mask], baseline[:, None]
            )
        out = np.full((len(raw), len(self.services)), np.nan)
        out[:, self._effect_columns] = values
        return out

    def propensities(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Compute ``P(service | x, service or none)`` per service, shape (rows, services).

        NaN for a service without an effect model.
        """
        arm_probability, _ = self._predictions(matrix, num_threads=num_threads)
        return self._conditional(arm_probability)

    def _conditional(self, arm_probability: np.ndarray) -> np.ndarray:
        """``P(service | x, service or none)`` from ``P(arm | x)``, shape (rows, services)."""
        control = arm_probability[:, 0]
        out = np.full((len(arm_probability), len(self.services)), np.nan)
        for column, service in enumerate(self.services):
            if service in self.effects and service in self.arms:
                treated = arm_probability[:, self.arms.index(service)]
                out[:, column] = treated / np.maximum(treated + control, 1e-12)
        return out

    def predict_matrix(
        self, matrix: np.ndarray, eligible: np.ndarray, *, num_threads: int = 0
    ) -> BenefitTable:
        """Benefit estimates for an encoded matrix and its eligibility, (rows, services).

        Parameters
        ----------
        matrix : ndarray, shape (rows, features)
            Output of :class:`models.features.FeatureEncoder`.
        eligible : ndarray of bool, shape (rows, services)
            Eligibility per service, in the order of :attr:`services`.
        num_threads : int, default 0
            LightGBM threads (0: its default; 1 is fastest for a single row).

        Returns
        -------
        BenefitTable
        """
        arm_probability, estimates = self._predictions(matrix, num_threads=num_threads)
        propensity = self._conditional(arm_probability)
        support = np.full((2, len(self.services)), np.nan)
        for column, effect in zip(self._effect_columns, self.effects.values(), strict=True):
            support[:, column] = effect.support
        inside = (propensity >= support[0]) & (propensity <= support[1])
        status = np.where(
            np.isnan(support[0]),
            np.int8(CODE_NO_MODEL),
            np.where(
                ~eligible,
                np.int8(CODE_NOT_ELIGIBLE),
                np.where(inside, np.int8(CODE_ESTIMATED), np.int8(CODE_OUTSIDE_SUPPORT)),
            ),
        ).astype(np.int8)
        ok = status == CODE_ESTIMATED
        estimate = np.where(ok, estimates, np.nan)
        lower = np.full(estimate.shape, np.nan)
        upper = np.full(estimate.shape, np.nan)
        for column, effect in zip(self._effect_columns, self.effects.values(), strict=True):
            rows = ok[:, column]
            if rows.any():
                lower[rows, column], upper[rows, column] = effect.interval(estimate[rows, column])
        return BenefitTable(self.services, estimate, lower, upper, status, propensity)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return benefit columns (:meth:`BenefitTable.frame`) for every row of a frame."""
        matrix = self.encoder.encode_frame(frame)
        eligible = eligibility_matrix(self.schema, frame, self.services)
        return self.predict_matrix(matrix, eligible).frame(frame.index)

    def contributions(
        self, matrix: np.ndarray, service: str, *, num_threads: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per input field, what moves a service's estimate away from the base value.

        A trees stage: its exact TreeSHAP. An index stage: the exact TreeSHAP of its
        two indices carried through the effect formula
        (:func:`models.effect_index.index_attributions`).

        Returns
        -------
        field_contributions : ndarray, shape (rows, fields)
            In probability points; ``base + contributions.sum(-1)`` is the estimate.
        base_values : ndarray, shape (rows,)
        """
        if service not in self.effects:
            known = list(self.effects)
            raise KeyError(MSG_UNKNOWN_SERVICE.format(service=service, services=known))
        effect = self.effects[service]

        def contrib(booster: lgb.Booster) -> np.ndarray:
            values = booster.predict(matrix, pred_contrib=True, **_thread_params(num_threads))
            return np.asarray(values).reshape(len(matrix), matrix.shape[1] + 1)

        if effect.index is None:
            per_feature = contrib(effect.scored_booster)
            return per_feature[:, :-1] @ self._feature_to_field, per_feature[:, -1]
        assert self.baseline is not None
        per_feature, base = index_attributions(
            effect.index.shift,
            effect.index.need_gain,
            contrib(effect.index.need_model),
            contrib(self.baseline),
        )
        return per_feature @ self._feature_to_field, base

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``effects/`` into a model artifact directory (LightGBM text + JSON)."""
        root = Path(directory) / EFFECTS_DIR
        root.mkdir(parents=True, exist_ok=True)
        self.propensity.activation.save_model(str(root / ACTIVATION_FILE))
        self.propensity.choice.save_model(str(root / CHOICE_FILE))
        if self.baseline is not None:
            self.baseline.save_model(str(root / BASELINE_FILE))
        for service, effect in self.effects.items():
            folder = root / (FINAL_DIR if effect.index is None else NEED_INDEX_DIR)
            folder.mkdir(exist_ok=True)
            effect.scored_booster.save_model(str(folder / f"{service}.txt"))
        manifest = {
            "format_version": EFFECTS_FORMAT_VERSION,
            "services": self.services,
            "arms": self.arms,
            "feature_names": self.encoder.feature_names,
            "schema_fingerprint": self.schema.fingerprint(),
            "effects": {
                service: {
                    "final_stage": effect.final_stage,
                    **(
                        {}
                        if effect.index is None
                        else {"shift": effect.index.shift, "need_gain": effect.index.need_gain}
                    ),
                    "support": list(effect.support),
                    "bands": [band.to_dict() for band in effect.bands],
                    "summary": effect.summary,
                }
                for service, effect in self.effects.items()
            },
            "metadata": self.metadata,
        }
        (root / EFFECTS_MANIFEST).write_text(
            json.dumps(manifest, indent=2, default=_json_default), "utf-8"
        )
        return root

    @classmethod
    def load(cls, directory: str | Path, schema: Schema) -> ServiceEffectModels:
        """Read ``effects/`` of a model artifact directory; never unpickles."""
        root = Path(directory) / EFFECTS_DIR
        manifest_path = root / EFFECTS_MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(MSG_NOT_EFFECTS.format(path=root, manifest=EFFECTS_MANIFEST))
        manifest: dict[str, Any] = json.loads(manifest_path.read_text("utf-8"))
        if manifest.get("format_version") not in READABLE_FORMAT_VERSIONS:
            raise ValueError(
                MSG_EFFECTS_FORMAT.format(
                    path=root,
                    found=manifest.get("format_version"),
                    expected=EFFECTS_FORMAT_VERSION,
                )
            )
        effects = {
            service: _read_effect(root, service, entry)
            for service, entry in manifest["effects"].items()
        }
        baseline_path = root / BASELINE_FILE
        models = cls(
            schema=schema,
            propensity=PropensityModel(
                activation=lgb.Booster(model_file=str(root / ACTIVATION_FILE)),
                choice=lgb.Booster(model_file=str(root / CHOICE_FILE)),
                arms=list(manifest["arms"]),
            ),
            effects=effects,
            services=manifest["services"],
            metadata=manifest.get("metadata", {}),
            baseline=lgb.Booster(model_file=str(baseline_path))
            if baseline_path.is_file()
            else None,
        )
        if models.encoder.feature_names != manifest["feature_names"]:
            raise ValueError(MSG_EFFECTS_FEATURES.format(path=root))
        return models


def _read_effect(root: Path, service: str, entry: Mapping[str, Any]) -> ServiceEffect:
    """Read one service's entry of ``effects.json`` and its LightGBM text file."""
    bands = [
        IntervalBand(
            upper_edge=np.inf if band["upper_edge"] is None else float(band["upper_edge"]),
            mean=float(band["mean"]),
            lower=float(band["lower"]),
            upper=float(band["upper"]),
            clients=int(band["clients"]),
        )
        for band in entry["bands"]
    ]
    index = None
    booster = None
    if entry.get("final_stage", STAGE_TREES) == STAGE_INDEX:
        index = IndexStage(
            shift=float(entry["shift"]),
            need_gain=float(entry["need_gain"]),
            need_model=lgb.Booster(model_file=str(root / NEED_INDEX_DIR / f"{service}.txt")),
        )
    else:
        booster = lgb.Booster(model_file=str(root / FINAL_DIR / f"{service}.txt"))
    return ServiceEffect(
        service=service,
        booster=booster,
        support=(float(entry["support"][0]), float(entry["support"][1])),
        bands=bands,
        summary=dict(entry.get("summary", {})),
        index=index,
    )


def has_effects(directory: str | Path) -> bool:
    """Whether a model artifact directory holds effect models."""
    return (Path(directory) / EFFECTS_DIR / EFFECTS_MANIFEST).is_file()


def _thread_params(num_threads: int) -> dict[str, Any]:
    """LightGBM prediction parameters for ``num_threads`` (0: none, LightGBM's default)."""
    return {"num_threads": num_threads} if num_threads else {}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return str(value)
