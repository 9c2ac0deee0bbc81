"""The register being drawn: observed columns and the hidden traits behind them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from training.synth.categories import CATEGORY_VALUES
from training.synth.sampling import AnyArray, BoolArray, FloatArray


@dataclass
class Draft:
    """Columns drawn so far, shared by the generation steps.

    Attributes
    ----------
    rng : numpy.random.Generator
        The one random stream of the register; every step draws from it in a fixed order.
    rows : int
        Number of clients.
    columns : dict of str to numpy.ndarray
        Observed fields by schema name, before consent masking: numbers as float64 (NaN =
        missing), booleans as bool, categories as int8 codes (-1 = missing), dates as
        datetime64[D].
    latent : dict of str to numpy.ndarray
        Hidden traits (true work ability, language skill, ...) that drive the observed
        fields and the true needs but are never written out.
    """

    rng: np.random.Generator
    rows: int
    columns: dict[str, AnyArray] = field(default_factory=dict)
    latent: dict[str, FloatArray] = field(default_factory=dict)

    def num(self, name: str) -> FloatArray:
        """Return an observed column as float64 (booleans become 0/1)."""
        return np.asarray(self.columns[name], dtype=np.float64)

    def flag(self, name: str) -> BoolArray:
        """Return an observed boolean column (missing counts as false)."""
        values = self.columns[name]
        if values.dtype == np.bool_:
            return np.asarray(values, dtype=np.bool_)
        return np.asarray(np.nan_to_num(values, nan=0.0) > 0.5, dtype=np.bool_)

    def is_in(self, name: str, *values: str) -> BoolArray:
        """Whether a category column holds one of ``values``."""
        categories = CATEGORY_VALUES[name]
        codes = [categories.index(value) for value in values]
        return np.asarray(np.isin(self.columns[name], codes), dtype=np.bool_)

    def gender_tilt(self, female_tilt: FloatArray) -> FloatArray:
        """Per-row weight multipliers: ``female_tilt`` for women, its inverse for men.

        Rows of other or missing gender get 1; the result has shape
        ``(rows, len(female_tilt))``.
        """
        tilt = np.ones((self.rows, len(female_tilt)))
        tilt[self.is_in("gender", "female")] = female_tilt
        tilt[self.is_in("gender", "male")] = 1.0 / female_tilt
        return tilt
