"""Where the flows' density is defined: :meth:`gbi.flows.preprocessing.Preprocessor.inside`."""

from __future__ import annotations

import numpy as np

from gbi.flows.preprocessing import Preprocessor


def test_a_value_on_a_logit_columns_physical_edge_is_outside() -> None:
    """With a training value at the physical bound (a jet with ``tau21 = 0``), the
    margin-widened range stops at the bound, and a value exactly there is clipped before
    the logit like one beyond the range: its density is an artefact (log-density -497 in a
    held-out toy, issue 19 stop 41), so it is outside; values just inside are not."""
    rng = np.random.default_rng(0)
    tau21 = np.r_[0.0, rng.uniform(0.05, 0.9, 999)]
    pre = Preprocessor(["tau21"], kinds="logit", bounds={"tau21": (0.0, None)}).fit(tau21[:, None])
    z = pre.transform(np.array([[0.0], [1e-3], [0.5]]))[:, 0]
    assert z[0] < z[1] - 5.0  # the edge maps far beyond every other value: clipped
    assert pre.inside(np.array([[0.0], [1e-3], [0.5], [0.905]])).tolist() == [
        False,
        True,
        True,
        True,  # inside the 1% margin above the largest value (b = 0.9085)
    ]
    # minmax columns have no clip: their closed range is where they are defined
    mm = Preprocessor(["tau21"], kinds="minmax", bounds={"tau21": (0.0, None)}).fit(tau21[:, None])
    assert mm.inside(np.array([[0.0], [0.5]])).tolist() == [True, True]
