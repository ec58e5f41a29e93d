"""Agreement for ``models``: no pairs are registered here, by design.

:mod:`reference.models` and :mod:`accelerated.models` define *classes* (``LinearScore``,
``MLPScore``) built on both sides from the same parameters; a registered pair names a module-level
function. Their methods (``__call__`` / ``forward``, ``jacobian``, ``divergence``) are checked for
agreement in ``tests/test_models.py`` with :func:`crosscheck.assert_agree` on
``Twin("models.MLPScore", W1=..., b1=..., W2=..., b2=...)`` objects at float64 and float32, and the
strategies below are the ones those tests draw from (users can reuse them for their own models).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategies as cs
from ..agree import Twin


@st.composite
def mlp_twins(draw: st.DrawFn, d: int | None = None, cond_dim: int | None = None) -> Twin:
    """``Twin("models.MLPScore", ...)`` with d in 1..4, k in 0..2, H in 1..8 and weights in [-1.5, 1.5]."""
    d = draw(st.integers(1, 4)) if d is None else d
    k = draw(st.integers(0, 2)) if cond_dim is None else cond_dim
    H = draw(st.integers(1, 8))
    return Twin(
        "models.MLPScore",
        W1=draw(cs.bounded_floats((d + k, H), -1.5, 1.5)),
        b1=draw(cs.bounded_floats((H,), -1.0, 1.0)),
        W2=draw(cs.bounded_floats((H, d), -1.5, 1.5)),
        b2=draw(cs.bounded_floats((d,), -1.0, 1.0)),
    )


@st.composite
def linear_twins(draw: st.DrawFn, d: int | None = None) -> Twin:
    """``Twin("models.LinearScore", W=..., b=...)`` with d in 1..4."""
    d = draw(st.integers(1, 4)) if d is None else d
    return Twin(
        "models.LinearScore", W=draw(cs.bounded_floats((d, d), -3.0, 3.0)), b=draw(cs.bounded_floats((d,), -3.0, 3.0))
    )


@st.composite
def model_inputs(draw: st.DrawFn, twin: Twin) -> tuple[np.ndarray, np.ndarray | None]:
    """Points x (n, d) in [-3, 3] and, for a conditional MLPScore, conditioning c (n, k)."""
    params = twin.params
    if "W2" in params:
        d = params["W2"].shape[1]
        k = params["W1"].shape[0] - d
    else:
        d, k = params["b"].shape[0], 0
    n = draw(st.integers(1, 6))
    x = draw(cs.bounded_floats((n, d), -3.0, 3.0))
    c = draw(cs.bounded_floats((n, k), -3.0, 3.0)) if k else None
    return x, c
