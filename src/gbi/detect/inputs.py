"""Input samples of a detection run: data, reference background, signal, test set.

The data (``column -> array`` with the features and mjj) is split into the signal region
(SR) and the sidebands (SB) with :class:`~gbi.regions.Regions`. The optional samples are
split as in CATHODE practice:

- reference background (independent of the data): half ``A`` trains the idealized
  detector (and is the background of the supervised one), half ``B`` is test background;
- signal (events *not* injected into the data): half ``A`` trains the supervised detector,
  half ``B`` is test signal.

The test set (SR events of signal ``B`` labelled 1 and reference ``B`` labelled 0) is never
used in training. Problems that make a method impossible (too few SR events, no
sideband events) are collected as messages, not raised, so that a run always writes a valid
(if uninformative) result.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> def table(n, mjj):
...     t = {f: rng.uniform(0.1, 1.0, n) for f in ("mj1", "delta_mj", "tau21_j1", "tau21_j2")}
...     return {**t, "mjj": mjj}
>>> data = table(1000, rng.uniform(2800, 4200, 1000))
>>> inputs = prepare_inputs(data, regions=Regions(), features=DEFAULT_FEATURES)
>>> int(inputs.sr.sum()) + int(inputs.sb.sum()), inputs.test is None
(1000, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gbi.background.split import RegionSplit, split_regions
from gbi.errors import GbiInputError
from gbi.regions import Regions
from gbi.tables import DEFAULT_FEATURES, Table, select_columns, subset

__all__ = ["DetectInputs", "Table", "prepare_inputs", "split_halves", "subset"]


@dataclasses.dataclass
class DetectInputs:
    """Validated samples; tables hold the feature columns, ``mjj`` and (if any) ``label``."""

    data: Table
    split: RegionSplit  # SR and sideband masks of the data
    reference_train: Table | None = None
    reference_test: Table | None = None
    signal_train: Table | None = None
    test: Table | None = None  # SR events with "label": 1 signal, 0 background
    messages: list[str] = dataclasses.field(default_factory=list)

    @property
    def sr(self) -> np.ndarray:
        """bool ``(n_data,)``: data events in the SR."""
        return self.split.sr

    @property
    def sb(self) -> np.ndarray:
        """bool ``(n_data,)``: data events in the sidebands."""
        return self.split.sb

    @property
    def n_sr(self) -> int:
        return self.split.n_sr

    @property
    def n_sb(self) -> int:
        return self.split.n_sb


def split_halves(table: Mapping[str, np.ndarray], seed: int) -> tuple[Table, Table]:
    """Random halves ``A``, ``B`` of ``table`` (seeded).

    >>> a, b = split_halves({"x": np.arange(5)}, seed=0)
    >>> len(a["x"]), len(b["x"]), sorted(np.concatenate([a["x"], b["x"]]).tolist())
    (2, 3, [0, 1, 2, 3, 4])
    """
    n = len(next(iter(table.values()))) if table else 0
    order = np.random.default_rng(seed).permutation(n)
    return subset(table, np.sort(order[: n // 2])), subset(table, np.sort(order[n // 2 :]))


def _checked(table: Mapping[str, Any] | None, columns: Sequence[str], source: str) -> Table | None:
    if table is None:
        return None
    x, _ = select_columns(table, list(columns), source=source)
    out = {name: x[:, j] for j, name in enumerate(columns)}
    if "label" in table:
        out["label"] = np.asarray(table["label"]).astype(np.int64)
    return out


def prepare_inputs(
    data: Mapping[str, Any],
    *,
    regions: Regions,
    features: Sequence[str] = DEFAULT_FEATURES,
    reference: Mapping[str, Any] | None = None,
    signal: Mapping[str, Any] | None = None,
    test: Mapping[str, Any] | None = None,
    truth_label: str | None = None,
    seed: int = 0,
) -> DetectInputs:
    """Validate columns (finite values required) and split the samples (see module doc).

    ``test`` (with a ``label`` column, or ``truth_label``) replaces the test set built from
    the halves ``B``. Raises :class:`~gbi.errors.GbiInputError` for missing columns, NaN/inf
    and an empty data sample; anything else is reported in ``messages``.
    """
    columns = [*features, "mjj"]
    if truth_label and truth_label != "label":
        data = {**data, "label": data[truth_label]} if truth_label in data else data
        if test is not None and truth_label in test:
            test = {**test, "label": test[truth_label]}
    if truth_label and truth_label not in (data or {}) and test is None:
        raise GbiInputError(
            f"--truth-label {truth_label}: expected a column {truth_label!r} in the data, found "
            f"only {sorted(data)}; drop the option or process the files with their label branch"
        )
    table = _checked(data, columns, "data")
    assert table is not None
    if len(table["mjj"]) == 0:
        raise GbiInputError("data: expected events, found none; check the input files")
    inputs = DetectInputs(table, split_regions(table, regions))
    ref = _checked(reference, columns, "reference background")
    sig = _checked(signal, columns, "signal sample")
    if ref is not None:
        inputs.reference_train, inputs.reference_test = split_halves(ref, seed + 17)
    if sig is not None:
        sig = subset(sig, regions.in_signal_region(sig["mjj"]))
        inputs.signal_train, sig_test = split_halves(sig, seed + 29)
    if test is not None:
        inputs.test = _checked(test, columns, "test set")
        if inputs.test is not None and "label" not in inputs.test:
            raise GbiInputError(
                "test set: expected a truth column 'label' (1 signal, 0 background), found "
                f"only {sorted(test)}; pass --truth-label NAME"
            )
        if inputs.test is not None:
            inputs.test = subset(inputs.test, regions.in_signal_region(inputs.test["mjj"]))
    elif ref is not None and sig is not None:
        assert inputs.reference_test is not None
        bkg = subset(inputs.reference_test, regions.in_signal_region(inputs.reference_test["mjj"]))
        inputs.test = {name: np.concatenate([sig_test[name], bkg[name]]) for name in columns}
        inputs.test["label"] = np.concatenate(
            [np.ones(len(sig_test["mjj"]), np.int64), np.zeros(len(bkg["mjj"]), np.int64)]
        )
    elif truth_label:
        inputs.messages.append(
            "no independent test set (needs --reference-background and --signal, or --test): "
            "the evaluation uses the out-of-fold scores of the SR data"
        )
    return inputs
