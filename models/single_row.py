"""One-row predictions through LightGBM's ``SingleRowFast`` C API: same numbers, less overhead.

``Booster.predict`` sets a predictor up (parameters parsed, buffers allocated, thread
count set) on every call. For the single client of an API request that set-up is most
of the cost of a raw score (12 services: about 0.4 ms of 0.5 ms) and a noticeable part
of TreeSHAP. ``LGBM_BoosterPredictForMatSingleRowFastInit`` does it once per booster and
kind of prediction; predictions are then bit-identical to ``Booster.predict``. LightGBM
guards the cached predictor with the booster's mutex, so concurrent threads are safe.

:class:`ServiceNeedModel` uses this for one-row matrices and falls back to the ordinary
path if the C API is not available.
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

import lightgbm as lgb
import numpy as np

RAW_SCORE = 1  # C_API_PREDICT_RAW_SCORE
CONTRIB = 3  # C_API_PREDICT_CONTRIB
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


def _library() -> Any:
    from lightgbm import basic

    return basic._LIB


def _check(code: int) -> None:
    if code != 0:
        message = _library().LGBM_GetLastError()
        raise lgb.basic.LightGBMError(message.decode("utf-8", "replace"))


def _free(library: Any, handle: ctypes.c_void_p) -> None:
    library.LGBM_FastConfigFree(handle)


class SingleRowPredictor:
    """Raw scores (``kind=RAW_SCORE``) or TreeSHAP contributions (``CONTRIB``) of one row.

    Parameters
    ----------
    booster : lightgbm.Booster
        Kept referenced for as long as the predictor lives.
    kind : int
        ``RAW_SCORE`` or ``CONTRIB``.
    num_features : int
        Columns of the rows to predict.
    """

    def __init__(self, booster: lgb.Booster, *, kind: int, num_features: int) -> None:
        library = _library()
        self.booster = booster
        self.width = 1 if kind == RAW_SCORE else num_features + 1
        self._library = library
        self._handle = ctypes.c_void_p()
        _check(
            library.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(kind),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(num_features),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(self._handle),
            )
        )
        weakref.finalize(self, _free, library, self._handle)

    def predict_into(self, row: np.ndarray, out: np.ndarray) -> None:
        """Write the prediction for ``row`` (C-contiguous float64) into ``out`` (``width``)."""
        length = ctypes.c_int64(0)
        _check(
            self._library.LGBM_BoosterPredictForMatSingleRowFast(
                self._handle,
                row.ctypes.data_as(ctypes.c_void_p),
                ctypes.byref(length),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )


class SingleRowPredictors:
    """One :class:`SingleRowPredictor` of each kind per booster, built on first use."""

    def __init__(self, boosters: list[lgb.Booster], num_features: int) -> None:
        self.num_features = num_features
        self.raw = [
            SingleRowPredictor(b, kind=RAW_SCORE, num_features=num_features) for b in boosters
        ]
        self.contrib = [
            SingleRowPredictor(b, kind=CONTRIB, num_features=num_features) for b in boosters
        ]

    def raw_scores(self, row: np.ndarray) -> np.ndarray:
        """Shape (1, boosters)."""
        out = np.empty((len(self.raw), 1))
        for index, predictor in enumerate(self.raw):
            predictor.predict_into(row, out[index])
        return out.reshape(1, -1)

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Shape (boosters, features + 1): per-feature contributions and the base value."""
        out = np.empty((len(self.contrib), self.num_features + 1))
        for index, predictor in enumerate(self.contrib):
            predictor.predict_into(row, out[index])
        return out
