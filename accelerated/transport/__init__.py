r"""Optimal transport in PyTorch: W_p in 1-D and R^d, Sinkhorn, Sinkhorn divergence, sliced W_p, Gaussian W2.

Same formulas, names and parameters as :mod:`reference.transport` (see it for the slides: Isachenko,
DGM Lecture 7, recap 'Wasserstein distance', recap 'Theorem (Kantorovich-Rubinstein duality)' and
'Wasserstein metric' with its Gaussian theorem).

Submodules
----------
The same as on the reference side; every public name is re-exported here. ``one_d``
(wasserstein_1d, sliced_wasserstein), ``exact`` (wasserstein), ``sinkhorn`` (sinkhorn, SinkhornResult,
SinkhornConvergenceWarning, sinkhorn_divergence), ``gaussian`` (gaussian_w2). The private ``_common``
holds the array checks (``_check_clouds``, same name and contract as on the reference side) and
``_solver`` the stabilised-kernel Sinkhorn iteration; the pure-Python checks are shared in
:mod:`reference._args.transport`.

Devices, precision and gradients:

* ``gaussian_w2`` does the covariance algebra in float64 on the inputs' device (Cholesky, two
  triangular-aware products, ``eigvalsh``) and casts the result to the input dtype; it reads one
  flag on the host (did a Cholesky factorisation fail, is a covariance not PSD).
* ``wasserstein_1d`` and ``sliced_wasserstein`` sort in the input dtype and integrate the quantile
  functions in float64 (the cumulative weights, the gaps and the sum), then cast back. Batched over
  leading axes; differentiable in the samples and the weights.
* ``wasserstein``: exact OT is a combinatorial problem (an assignment or a linear program) without a
  GPU solver here; the cost matrix is built in float64 with torch, copied to the host, and solved by
  SciPy, as on the reference side. The result is a tensor on the inputs' device, differentiable in x
  and y through the cost of the optimal plan (the plan is held constant: the envelope theorem).
* ``sinkhorn`` runs without autograd in the input dtype as *stabilised-kernel* iterations (see
  ``_solver``), the log-domain iteration of the reference step for step, so the two agree to rounding.
  The host is read once per annealing and once every ``check_every`` iterations, never per iteration.
  ``entropic_cost`` carries the envelope gradient, ``cost`` its exact implicit-function gradient.
* ``tol=None`` means 1e-9 for float64 inputs and 1e-5 for lower precision (the float32 marginal error
  stalls near 1e-7).

One-sided names: none.
"""

from __future__ import annotations

from .exact import wasserstein
from .gaussian import gaussian_w2
from .one_d import sliced_wasserstein, wasserstein_1d
from .sinkhorn import SinkhornConvergenceWarning, SinkhornResult, sinkhorn, sinkhorn_divergence

__all__ = [
    "SinkhornConvergenceWarning",
    "SinkhornResult",
    "gaussian_w2",
    "sinkhorn",
    "sinkhorn_divergence",
    "sliced_wasserstein",
    "wasserstein",
    "wasserstein_1d",
]
