"""Optimal transport: W_p in 1-D and in R^d, entropic Sinkhorn, Sinkhorn divergence, sliced W_p, Gaussian W2.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7, recap slide 'Wasserstein distance' (transport plans
  gamma in Gamma(pi, p) and W = inf E ||x - y||), recap slide 'Theorem (Kantorovich-Rubinstein
  duality)' (checked as a theorem in :mod:`crosscheck.theorems.transport`), slide 'Wasserstein
  metric' (W_s = inf (E ||x - y||^s)^(1/s)) and the theorem on the same slide (W_2 between Gaussians,
  the formula of FID).

Submodules
----------
One per group of slides; every public name is re-exported here, so ``reference.transport.sinkhorn``
is the API. ``one_d`` (wasserstein_1d, sliced_wasserstein), ``exact`` (wasserstein: the assignment
problem or the transport LP), ``sinkhorn`` (sinkhorn, SinkhornResult, SinkhornConvergenceWarning,
sinkhorn_divergence), ``gaussian`` (gaussian_w2, the Bures closed form). The argument checks that
both sides share (the order p, the Sinkhorn options and epsilon schedule, the number of projections)
are in :mod:`reference._args.transport`; the array checks of this side in ``_common``.

Conventions: a discrete measure is a point cloud ``x`` of shape (n, d) with weights ``a`` on the
simplex (``None``: uniform 1/n); the ground cost is ``C_ij = ||x_i - y_j||^p`` (Euclidean norm) and
every *distance* returned here is W_p itself, the p-th root of the optimal cost; results whose name
or flag says ``squared`` are W_2^2. The reference works in float64, solves exact OT with SciPy
(``linear_sum_assignment``, ``linprog`` with HiGHS) and runs Sinkhorn in the log domain.

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
