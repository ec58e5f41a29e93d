"""Score matching: Fisher divergence, explicit (KDE), implicit, sliced and denoising score matching, NCSN, Tweedie.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7: 'Fisher divergence' (D_F = 1/2 E ||s_theta - grad log pi||^2)
  and the 'Denoising score matching' slides (theorem, proof, the objective
  E ||s_theta,sigma(x + sigma eps) + eps / sigma||^2).
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models: 'Score Matching Via
  Fisher Divergence', 'Score Matching' (Hyvarinen's E[1/2 ||s||^2 + tr(grad s)]) with 'Proof: 1D',
  'Hard to scale', 'Sliced Score Matching', "Tweedie's Formula" and 'Denoising Score Matching'.
* Isachenko, Deep Generative Models, Lecture 13: 'Implicit score matching' (theorem and 1-D proof),
  'Sliced score matching (Hutchinson's trace estimation)', 'Denoising score matching' and
  'Noise Conditioned Score Network (NCSN)' (geometric sigma_1 > ... > sigma_L, the sigma^2-weighted
  objective, training with l ~ U[1, L]); Lecture 14 recaps them ('Recap of previous lecture').
* Beigy, Deep Generative Models: Score-Based Generative Models: 'Score Matching (SM)' (explicit score
  matching with a kernel density estimator), the implicit-SM and DSM slides (including the variance of
  DSM as sigma -> 0), the NCSN slide (decreasing geometric noise levels, loss weight sigma_t^2) and the
  sliced score matching estimator.

Conventions
-----------
* **The 1/2 is always there.** Every objective here is written with the 1/2 of the Fisher divergence
  D_F = 1/2 E ||.||^2 (L7 'Fisher divergence', L8 'Score Matching Via Fisher Divergence', Beigy's
  D_FS), so that the slide identities hold literally: ``implicit_score_matching`` = D_F + const,
  ``denoising_score_matching`` = 1/2 E ||s - grad log q_sigma||^2 + const, and the sliced objectives
  equal ``implicit_score_matching`` in expectation. Slides that drop the 1/2 (L7's and L13's DSM
  theorem, L13's NCSN objective, Beigy's J_esm) state the same minimiser with twice the value; each
  function's docstring says which slide it matches exactly and by which factor it differs from the others.
* **Reductions.** Every objective is a *mean* over samples (and over projections / probes); the
  estimators of traces return one value per sample.
* **Shapes.** Samples lie along the first axis: ``x`` has shape ``(n, ...)``, a vector ``(n, d)`` or an
  image ``(n, C, H, W)`` per sample; norms and inner products are sums over all the feature axes (the
  flattened sample of D features, as in :mod:`reference.diffusion`). A score model maps ``x`` to an
  array of its shape and must treat samples independently.
* **Models on this side** have no autograd: objectives that need derivatives of the model take an
  analytic model, ``model(x)`` plus ``model.divergence(x)`` (the exact trace of the Jacobian, shape
  ``(n,)``) or ``model.jacobian(x)`` (``(n, D, D)``, entry ``[k, i, j] = d s_i / d x_j`` at ``x_k`` for
  the flattened features),
  e.g. :class:`reference.models.LinearScore` and :class:`reference.models.MLPScore`. Objectives that
  only evaluate the model (DSM, ESM, NCSN) take any callable.
* **Noise-conditional models** (NCSN's s_theta(x', sigma)) are called as ``model(x_tilde, sigma)``
  with ``sigma`` of shape ``(n,)`` holding each sample's noise level (the value sigma, not its index or
  its log: wrap the model to feed log sigma), the same call in training (:func:`ncsn_loss`,
  :func:`denoising_score_matching`) and in sampling (:func:`reference.langevin.annealed_langevin_sample`),
  as the time step t reaches a diffusion model; ``reference.models.MLPScore`` with ``cond_dim=1``
  takes it as its conditioning input. ``noise_conditional=`` selects the call; it never changes the
  formula.
* **Randomness** is an argument: ``noise=`` (pre-drawn standard normals, or the probe vectors of the
  sliced objectives; NCSN's level indices come with them as ``levels=``) or ``rng=`` (a
  ``numpy.random.Generator``), exactly one.

One-sided names: none.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import _checks as C

__all__ = [
    "denoising_score_matching",
    "explicit_score_matching",
    "fisher_divergence",
    "geometric_sigmas",
    "hutchinson_trace",
    "implicit_score_matching",
    "jacobian_trace",
    "kde_score",
    "ncsn_loss",
    "sliced_score_matching",
    "sliced_score_matching_vr",
    "tweedie_denoise",
]

PROBE_KINDS = ("gaussian", "rademacher")
TRACE_METHODS = ("auto", "factored", "vmap")


# --------------------------------------------------------------------------- input checks


def _samples(name: str, x: object) -> np.ndarray:
    """A float64 array of samples (n, ...), n >= 1 and at least one feature, finite."""
    x = C.as_float64(name, x)
    if x.ndim == 0 or x.shape[0] == 0 or x[0].size == 0:
        raise ValueError(f"{name}: expected samples of shape (n, ...) with n >= 1 and features, got shape {x.shape}")
    C.check_finite(name, x)
    return x


def _flat(x: np.ndarray) -> np.ndarray:
    """Samples (n, ...) as rows (n, D) of their D features (a view)."""
    return x.reshape(x.shape[0], -1)


def _sum_features(x: np.ndarray) -> np.ndarray:
    """Sum over every axis after the first: one value per sample."""
    return np.sum(_flat(x), axis=1)


def _check_callable(model: object) -> None:
    if not callable(model):
        raise TypeError(f"model: expected a callable score model s(x) of the shape of x, got {C.describe(model)}")


def _analytic(model: object, method: str) -> None:
    """The reference has no autograd: a model whose derivatives are needed must supply them."""
    if not callable(model) or not callable(getattr(model, method, None)):
        raise TypeError(
            f"model: expected an analytic score model with __call__(x) and {method}(x) (the reference side "
            f"has no autograd; use reference.models.LinearScore or MLPScore, or the accelerated side, which "
            f"differentiates any torch model), got {C.describe(model)}"
        )


def _scores(model: object, x: np.ndarray, *cond: np.ndarray) -> np.ndarray:
    """model(x[, cond]) as float64, checked to have the shape of x."""
    s = C.as_float64("model(x)", model(x, *cond))
    if s.shape != x.shape:
        raise ValueError(f"model: expected scores of the shape of x {x.shape}, got shape {s.shape}")
    return s


def _jacobians(model: object, x: np.ndarray) -> np.ndarray:
    """model.jacobian(x): (n, D, D), the Jacobian of the flattened map of the D features at every sample."""
    J = C.as_float64("model.jacobian(x)", model.jacobian(x))
    n, D = _flat(x).shape
    if J.shape != (n, D, D):
        raise ValueError(f"model: expected model.jacobian(x) of shape ({n}, {D}, {D}), got shape {J.shape}")
    return J


def _chunk_size(chunk_size: object) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected None or a positive int, got {C.describe(chunk_size)}")
    return int(chunk_size)


def _noise_level(name: str, sigma: object) -> float:
    return C.check_positive_scalar(name, sigma)


def _count(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected None or a positive int, got {C.describe(value)}")
    return int(value)


def _probes(x: np.ndarray, count_name: str, count: object, kind: object, noise: object, rng: object) -> np.ndarray:
    """Probe vectors v of shape (M, n, ...): the given ``noise`` (checked) or M draws of ``kind`` from ``rng``."""
    if kind not in PROBE_KINDS:
        raise ValueError(f"kind: expected one of {PROBE_KINDS}, got {kind!r}")
    M = _count(count_name, count)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        M = 1 if M is None else M
        if kind == "gaussian":
            return rng.standard_normal((M, *x.shape))
        return 2.0 * rng.integers(0, 2, size=(M, *x.shape)).astype(np.float64) - 1.0
    v = C.as_float64("noise", noise)
    if v.ndim != x.ndim + 1 or v.shape[1:] != x.shape or v.shape[0] == 0 or (M is not None and v.shape[0] != M):
        expected = f"({'M' if M is None else M}, {', '.join(str(k) for k in x.shape)})"
        raise ValueError(
            f"noise: expected probes of shape {expected} ({count_name} probes per sample, x has shape {x.shape}), "
            f"got shape {v.shape}"
        )
    C.check_finite("noise", v)
    if kind == "rademacher" and not np.all(np.abs(v) == 1.0):
        raise ValueError("noise: expected Rademacher probes (every entry -1 or +1) for kind='rademacher'")
    return v


def _standard_normals(name: str, noise: object, rng: object, shape: tuple[int, ...]) -> np.ndarray:
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        return rng.standard_normal(shape)
    eps = C.as_float64(name, noise)
    C.check_shape(name, eps, shape)
    C.check_finite(name, eps)
    return eps


def _sigma_table(sigmas: object) -> np.ndarray:
    """NCSN noise levels: a vector sigma_1 > ... > sigma_L > 0."""
    sigmas = C.as_float64("sigmas", sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] == 0:
        raise ValueError(f"sigmas: expected a vector of noise levels of shape (L,), got shape {sigmas.shape}")
    C.check_finite("sigmas", sigmas)
    if np.any(sigmas <= 0):
        raise ValueError(f"sigmas: expected positive noise levels, got min {np.min(sigmas)!r}")
    if np.any(np.diff(sigmas) >= 0):
        raise ValueError(
            f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L (NCSN), got {sigmas.tolist()}"
        )
    return sigmas


# --------------------------------------------------------------------------- Fisher divergence and ESM


def fisher_divergence(score_p: np.ndarray, score_q: np.ndarray) -> np.ndarray:
    r"""Fisher divergence from score values at samples: the mean of one half the squared distance.

    .. math::

        D_F(\pi, p) = \frac12 \mathbb{E}_\pi \lVert \nabla_x \log p(x) - \nabla_x \log \pi(x) \rVert_2^2
        \approx \frac1n \sum_{i=1}^n \frac12 \lVert s_p(x_i) - s_q(x_i) \rVert_2^2,

    with the samples :math:`x_i` drawn from the distribution the expectation is over (the caller's
    choice; the function only sees the two score values at each sample). The factor 1/2 is the slide's.

    Parameters
    ----------
    score_p, score_q : (n, ...) array_like
        The two scores at the same n samples, finite.

    Returns
    -------
    () ndarray
        The estimate, >= 0 (half the mean squared Euclidean distance, not a distance).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Fisher divergence'; Advanced Course on DGM, Lecture 8, slide
    'Score Matching Via Fisher Divergence'; Hyvarinen, Estimation of Non-Normalized Statistical Models
    by Score Matching, JMLR 6 (2005).
    """
    s_p = _samples("score_p", score_p)
    s_q = _samples("score_q", score_q)
    C.check_shape("score_q", s_q, s_p.shape)
    return np.mean(0.5 * _sum_features((s_p - s_q) ** 2))


def kde_score(x: np.ndarray, data: np.ndarray, bandwidth: float) -> np.ndarray:
    r"""Score of a Gaussian kernel density estimate of ``data``, evaluated at the rows of ``x``.

    .. math::

        q(x) = \frac1m \sum_{k=1}^m \mathcal N(x;\, x_k, h^2 I), \qquad
        \nabla_x \log q(x) = \sum_{k=1}^m w_k(x)\, \frac{x_k - x}{h^2}, \qquad
        w_k(x) = \operatorname{softmax}_k\Bigl(-\frac{\lVert x - x_k \rVert^2}{2h^2}\Bigr).

    The weights are a stable softmax (the largest exponent is subtracted), so points far from all the
    data (every kernel underflows) still get the score of their nearest data points. The differences
    :math:`x_k - x` are formed directly (not through :math:`\lVert x\rVert^2 - 2x^\top x_k +
    \lVert x_k\rVert^2`), which keeps the result accurate to a few ulp relative to the exponents.
    The Beigy slide writes the kernel normaliser as 1/h (the 1-D case); for a Gaussian kernel in d
    dimensions it is :math:`(2\pi h^2)^{-d/2}`, which cancels in the score.

    Parameters
    ----------
    x : (n, ...) array_like
        Evaluation points, finite.
    data : (m, ...) array_like
        The data set x_1..x_m, finite.
    bandwidth : float
        Kernel width h > 0 (the standard deviation of each Gaussian kernel).

    Returns
    -------
    (n, ...) ndarray
        :math:`\nabla_x \log q(x_i)` for every row.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (kernel density estimator
    q(x) = 1/m sum_k K((x - x_k)/h) / h); Vincent, A Connection Between Score Matching and Denoising
    Autoencoders, Neural Computation 23 (2011), Section 4.
    """
    x = _samples("x", x)
    data = _samples("data", data)
    if x.shape[1:] != data.shape[1:]:
        raise ValueError(f"x and data: expected the same feature shape, got x {x.shape} and data {data.shape}")
    h = C.check_positive_scalar("bandwidth", bandwidth)
    return _kde_score(x, data, h)


def _kde_score(x: np.ndarray, data: np.ndarray, h: float) -> np.ndarray:
    """The KDE score of checked inputs (see :func:`kde_score`), of the flattened samples."""
    diff = _flat(data)[None, :, :] - _flat(x)[:, None, :]  # x_k - x, (n, m, D)
    log_w = -0.5 * np.sum(diff**2, axis=-1) / h**2
    w = special.softmax(log_w, axis=1)
    return (np.einsum("nm,nmd->nd", w, diff) / h**2).reshape(x.shape)


def explicit_score_matching(
    model: object,
    data: np.ndarray,
    bandwidth: float,
    *,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Explicit score matching with a Gaussian kernel density estimate as the target, over samples of it.

    .. math::

        \tfrac12 J_{esm}(\theta) = \frac12 \int \lVert s_\theta(x) - \nabla_x \log q(x) \rVert^2 q(x)\, dx
        \approx \frac1m \sum_{k=1}^m \frac12 \lVert s_\theta(\tilde x_k) - \nabla \log q(\tilde x_k) \rVert^2,
        \qquad \tilde x_k = x_k + h\, \varepsilon_k,

    with q the KDE of :func:`kde_score`. As on the slide, the integral against
    :math:`q = \frac1m \sum_k \mathcal N(x_k, h^2 I)` is split over the kernels; one draw per kernel
    (:math:`\tilde x_k = x_k + h \varepsilon_k`, :math:`\varepsilon_k \sim \mathcal N(0, I)`) makes
    the average an unbiased estimate of it. **Factor:** this is one half of Beigy's
    :math:`J_{esm}` (the slide has no 1/2); it is the Fisher divergence :math:`D_F(q, p_\theta)` of
    :func:`fisher_divergence`. With the same ``noise`` and ``sigma = bandwidth``,
    :func:`denoising_score_matching` on ``data`` evaluates the model at the same points and differs
    from this objective by a constant in theta in expectation (Vincent 2011).

    Parameters
    ----------
    model : callable
        Score model, ``model(x)`` maps (m, ...) to (m, ...) (any callable: no derivative is needed).
    data : (m, ...) array_like
        The data set (kernel centres), finite.
    bandwidth : float
        Kernel width h > 0.
    noise : (m, ...) array_like, optional
        Standard normals eps_k, one per data point. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``noise = rng.standard_normal(data.shape)``.

    Returns
    -------
    () ndarray
        The estimate.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (J_esm with a kernel density
    estimator); Vincent, Neural Computation 23 (2011), Section 4 (explicit score matching with a
    Parzen estimate).
    """
    _check_callable(model)
    data = _samples("data", data)
    h = C.check_positive_scalar("bandwidth", bandwidth)
    eps = _standard_normals("noise", noise, rng, data.shape)
    x_tilde = data + h * eps
    s = _scores(model, x_tilde)
    grad_log_q = _kde_score(x_tilde, data, h)
    return np.mean(0.5 * _sum_features((s - grad_log_q) ** 2))


# --------------------------------------------------------------------------- implicit score matching


def _method(method: object) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method: expected one of {TRACE_METHODS} (a str), got {type(method).__name__} {method!r}")
    if method not in TRACE_METHODS:
        raise ValueError(f"method: expected one of {TRACE_METHODS}, got {method!r}")
    return method


def jacobian_trace(model: object, x: np.ndarray, *, chunk_size: int | None = None, method: str = "auto") -> np.ndarray:
    r"""Exact trace of the Jacobian of a score model at every sample (its divergence).

    .. math::

        \operatorname{tr}\bigl(\nabla_x s_\theta(x_i)\bigr)
        = \sum_{j=1}^d \frac{\partial s_{\theta,j}}{\partial x_j}(x_i).

    On this side the model supplies it analytically: ``model.divergence(x)``.

    Parameters
    ----------
    model : analytic score model
        ``model(x)`` and ``model.divergence(x)`` (shape (n,)), e.g. ``reference.models.MLPScore``.
    x : (n, ...) array_like
        Samples, finite.
    chunk_size : int, optional
        Accepted for parity with ``accelerated.score_matching.jacobian_trace``, where it bounds memory
        (Jacobian rows evaluated at once); the analytic divergence needs no chunking, so it has no
        effect here. Never changes the result on either side.
    method : {"auto", "factored", "vmap"}
        Accepted (and checked) for parity with ``accelerated.score_matching.jacobian_trace``, where
        it picks between two exact computations (the factored MLP trace and vmapped vector-Jacobian
        products); here the analytic divergence is the one method. Never changes the result.

    Returns
    -------
    (n,) ndarray
        The exact traces.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Hard to scale' (the diagonal of grad_x s_theta);
    Isachenko, DGM Lecture 13, slide 'Implicit score matching'.
    """
    _analytic(model, "divergence")
    _chunk_size(chunk_size)
    _method(method)
    x = _samples("x", x)
    tr = C.as_float64("model.divergence(x)", model.divergence(x))
    if tr.shape != x.shape[:1]:
        raise ValueError(f"model: expected model.divergence(x) of shape {x.shape[:1]}, got shape {tr.shape}")
    return tr


def implicit_score_matching(
    model: object, x: np.ndarray, *, chunk_size: int | None = None, method: str = "auto"
) -> np.ndarray:
    r"""Implicit (Hyvarinen) score matching objective with the exact Jacobian trace.

    .. math::

        J_{ism}(\theta) = \mathbb{E}_\pi\Bigl[\frac12 \lVert s_\theta(x) \rVert_2^2
            + \operatorname{tr}\bigl(\nabla_x s_\theta(x)\bigr)\Bigr]
        \approx \frac1n \sum_{i=1}^n \Bigl[\frac12 \lVert s_\theta(x_i) \rVert_2^2
            + \operatorname{tr}\bigl(\nabla_x s_\theta(x_i)\bigr)\Bigr],

    which equals the Fisher divergence :math:`\frac12 \mathbb{E}_\pi \lVert s_\theta - \nabla \log
    \pi \rVert^2` minus :math:`\frac12 \mathbb{E}_\pi \lVert \nabla \log \pi \rVert^2`, a constant in
    theta (the implicit score matching theorem; integration by parts). The objective is of x only:
    for a conditional model, fix the condition inside the callable.

    Parameters
    ----------
    model : analytic score model
        ``model(x)`` and ``model.divergence(x)``.
    x : (n, ...) array_like
        Samples from the data distribution pi, finite.
    chunk_size : int, optional
        See :func:`jacobian_trace` (no effect on this side).
    method : {"auto", "factored", "vmap"}
        See :func:`jacobian_trace` (checked, no effect on this side).

    Returns
    -------
    () ndarray
        The estimate (may be negative: the constant is dropped).

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Implicit score matching' (theorem, proof only for 1D);
    Advanced Course on DGM, Lecture 8, slides 'Score Matching' and 'Proof: 1D'; Beigy, Score-Based
    Generative Models, the implicit score matching slides; Hyvarinen, JMLR 6 (2005), Theorem 1.
    """
    _analytic(model, "divergence")
    x = _samples("x", x)
    tr = jacobian_trace(model, x, chunk_size=chunk_size, method=method)
    s = _scores(model, x)
    return np.mean(0.5 * _sum_features(s**2) + tr)


# --------------------------------------------------------------------------- Hutchinson and sliced SM


def hutchinson_trace(
    model: object,
    x: np.ndarray,
    *,
    n_probes: int | None = None,
    kind: str = "gaussian",
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Hutchinson's unbiased estimate of the Jacobian trace at every sample, from M probes each.

    .. math::

        \operatorname{tr}\bigl(\nabla_x s_\theta(x_i)\bigr)
        = \mathbb{E}_{v}\bigl[v^\top \nabla_x s_\theta(x_i)\, v\bigr]
        \approx \frac1M \sum_{j=1}^M v_{ij}^\top \nabla_x s_\theta(x_i)\, v_{ij},
        \qquad \mathbb{E}[v v^\top] = I.

    Unbiased for standard normal and for Rademacher probes (entries +-1 with probability 1/2). The
    variance of one term is :math:`2\lVert A_{sym}\rVert_F^2` for Gaussian probes and
    :math:`2(\lVert A_{sym}\rVert_F^2 - \sum_j A_{jj}^2)` for Rademacher probes
    (:math:`A_{sym} = (A + A^\top)/2`), so Rademacher probes are never worse.

    Parameters
    ----------
    model : analytic score model
        ``model(x)`` and ``model.jacobian(x)`` (shape (n, D, D), D the number of features).
    x : (n, ...) array_like
        Samples, finite.
    n_probes : int, optional
        M, probes per sample: default 1 with ``rng``; with ``noise`` it is ``noise.shape[0]`` and, if
        given, must equal it.
    kind : {'gaussian', 'rademacher'}
        Probe law drawn with ``rng``; with ``noise`` it is checked (Rademacher probes must be +-1).
    noise : (M, n, ...) array_like, optional
        The probes v. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``rng.standard_normal((M, *x.shape))``, or ``2 rng.integers(0, 2, (M, *x.shape)) - 1``.

    Returns
    -------
    (n,) ndarray
        The estimates, one per sample (mean over its M probes).

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Sliced score matching (Hutchinson's trace estimation)';
    Hutchinson, A stochastic estimator of the trace of the influence matrix for Laplacian smoothing
    splines, Comm. Statist. Simulation Comput. 18 (1989).
    """
    _analytic(model, "jacobian")
    x = _samples("x", x)
    v = _probes(x, "n_probes", n_probes, kind, noise, rng)
    J = _jacobians(model, x)
    v = v.reshape(v.shape[0], *_flat(x).shape)
    return np.mean(np.einsum("mni,nij,mnj->mn", v, J, v), axis=0)


def sliced_score_matching(
    model: object,
    x: np.ndarray,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Sliced score matching objective (SSM): projections of the score and of its Jacobian.

    .. math::

        J_{ssm}(\theta) = \mathbb{E}_{v}\mathbb{E}_{\pi}\Bigl[v^\top \nabla_x s_\theta(x)\, v
            + \frac12 \bigl(v^\top s_\theta(x)\bigr)^2\Bigr]
        \approx \frac1{nM} \sum_{i=1}^n \sum_{j=1}^M \Bigl[v_{ij}^\top \nabla_x s_\theta(x_i)\, v_{ij}
            + \frac12 \bigl(v_{ij}^\top s_\theta(x_i)\bigr)^2\Bigr],

    with :math:`\nabla_x s_\theta = \nabla_x^2 \log p_\theta` (the slides write the Hessian of the log
    density). For probes with :math:`\mathbb{E}[vv^\top] = I` (standard normal, Rademacher) its
    expectation over v is :func:`implicit_score_matching`. The variance-reduced form, which
    integrates the second term over v analytically, is :func:`sliced_score_matching_vr`.

    Parameters
    ----------
    model : analytic score model
        ``model(x)`` and ``model.jacobian(x)``.
    x : (n, ...) array_like
        Samples from the data distribution, finite.
    n_projections : int, optional
        M, projections per sample: default 1 with ``rng``; with ``noise`` it is ``noise.shape[0]``
        and, if given, must equal it.
    kind : {'gaussian', 'rademacher'}
        Projection law drawn with ``rng`` (checked against ``noise``).
    noise : (M, n, ...) array_like, optional
        The projection vectors v. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws them as in :func:`hutchinson_trace`.

    Returns
    -------
    () ndarray
        The estimate.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Sliced Score Matching'; Beigy, Score-Based Generative
    Models, the sliced score matching slides (the finite-sample estimator over m samples and M
    projections each); Isachenko, DGM Lecture 13, slide 'Sliced score matching (Hutchinson's trace
    estimation)'; Song, Garg, Shi, Ermon, Sliced Score Matching: A Scalable Approach to Density and
    Score Estimation, UAI 2019, eq. (8).
    """
    _analytic(model, "jacobian")
    x = _samples("x", x)
    v = _probes(x, "n_projections", n_projections, kind, noise, rng)
    s = _scores(model, x)
    J = _jacobians(model, x)
    v = v.reshape(v.shape[0], *_flat(x).shape)
    vJv = np.einsum("mni,nij,mnj->mn", v, J, v)
    vs = np.einsum("mni,ni->mn", v, _flat(s))
    return np.mean(vJv + 0.5 * vs**2)


def sliced_score_matching_vr(
    model: object,
    x: np.ndarray,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Sliced score matching with variance reduction (SSM-VR): only the trace term is projected.

    .. math::

        J_{ssm\text{-}vr}(\theta) = \mathbb{E}_{\pi}\Bigl[\mathbb{E}_{v}\bigl[v^\top \nabla_x s_\theta(x)\, v\bigr]
            + \frac12 \lVert s_\theta(x) \rVert_2^2\Bigr]
        \approx \frac1{nM} \sum_{i,j} v_{ij}^\top \nabla_x s_\theta(x_i)\, v_{ij}
            + \frac1n \sum_i \frac12 \lVert s_\theta(x_i) \rVert_2^2 .

    :math:`\mathbb{E}_v \frac12 (v^\top s)^2 = \frac12 s^\top \mathbb{E}[vv^\top] s = \frac12 \lVert s
    \rVert^2` for probes with :math:`\mathbb{E}[vv^\top] = I`, so this has the expectation of
    :func:`sliced_score_matching` and of :func:`implicit_score_matching`, with the variance of the
    second term removed. It is a separate function, not a flag, because it is a different estimator
    (same mean, different value on every draw) and is only unbiased when :math:`\mathbb{E}[vv^\top] =
    I`, which both probe kinds here satisfy.

    Parameters
    ----------
    model, x, n_projections, kind, noise, rng
        As in :func:`sliced_score_matching`.

    Returns
    -------
    () ndarray
        The estimate.

    References
    ----------
    Song, Garg, Shi, Ermon, Sliced Score Matching: A Scalable Approach to Density and Score
    Estimation, UAI 2019, eq. (9) (SSM-VR); Isachenko, DGM Lecture 13, slide 'Sliced score matching
    (Hutchinson's trace estimation)'.
    """
    _analytic(model, "jacobian")
    x = _samples("x", x)
    v = _probes(x, "n_projections", n_projections, kind, noise, rng)
    s = _scores(model, x)
    J = _jacobians(model, x)
    v = v.reshape(v.shape[0], *_flat(x).shape)
    vJv = np.einsum("mni,nij,mnj->mn", v, J, v)
    return np.mean(vJv) + np.mean(0.5 * _sum_features(s**2))


# --------------------------------------------------------------------------- denoising SM and NCSN


def denoising_score_matching(
    model: object,
    x: np.ndarray,
    sigma: float,
    *,
    noise_conditional: bool = False,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Denoising score matching at one noise level, with the 1/2 of the Fisher divergence.

    .. math::

        J_{dsm}(\theta) = \frac12\, \mathbb{E}_{\pi(x)} \mathbb{E}_{\varepsilon \sim \mathcal N(0, I)}
            \Bigl\lVert s_\theta(x + \sigma\varepsilon) + \frac{\varepsilon}{\sigma} \Bigr\rVert_2^2
        \approx \frac1n \sum_{i=1}^n \frac12 \Bigl\lVert s_\theta(\tilde x_i) + \frac{\varepsilon_i}{\sigma}
            \Bigr\rVert_2^2, \qquad \tilde x_i = x_i + \sigma \varepsilon_i,

    since :math:`\nabla_{\tilde x} \log q(\tilde x \mid x) = -(\tilde x - x)/\sigma^2 = -\varepsilon/\sigma`.
    **Factor:** this is exactly Beigy's DSM estimator (slide on the variance of DSM as sigma -> 0:
    :math:`\frac1{2m}\sum_i \lVert z_i/\sigma + \nabla \log p_\theta(x_i + \sigma z_i)\rVert^2`) and
    the Lecture 8 'Denoising Score Matching' objective; Isachenko's Lecture 7 slide
    ('Denoising score matching', last form) and Lecture 13 write it without the 1/2, i.e. twice this.
    No sigma^2 weighting is applied (that is the NCSN objective, :func:`ncsn_loss`). It differs from
    :math:`\frac12 \mathbb{E}\lVert s_\theta(\tilde x) - \nabla \log q_\sigma(\tilde x)\rVert^2`
    (Fisher divergence to the noisy marginal) by a constant in theta (DSM theorem). (The Lecture 8
    slide prints the kernel score as :math:`-(x - \tilde x)/\sigma^2`, a sign typo.)

    Parameters
    ----------
    model : callable
        Score model: ``model(x_tilde)``, or ``model(x_tilde, sigma)`` with ``noise_conditional``.
        Any callable (no derivative is needed).
    x : (n, ...) array_like
        Clean samples, finite.
    sigma : float
        Noise standard deviation > 0.
    noise_conditional : bool
        Call the model as ``model(x_tilde, sigma)`` with ``sigma`` of shape (n,) filled with sigma
        (the NCSN s_theta(x', sigma)); default False: ``model(x_tilde)``. Changes only the call.
    noise : (n, ...) array_like, optional
        Standard normals eps. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``noise = rng.standard_normal(x.shape)``.

    Returns
    -------
    () ndarray
        The estimate.

    References
    ----------
    Isachenko, DGM Lecture 7, slides 'Denoising score matching' (theorem and proof); Advanced Course on
    DGM, Lecture 8, slide 'Denoising Score Matching'; Beigy, Score-Based Generative Models, the DSM
    slides; Vincent, A Connection Between Score Matching and Denoising Autoencoders, Neural Computation
    23 (2011).
    """
    _check_callable(model)
    if not isinstance(noise_conditional, bool):
        raise TypeError(f"noise_conditional: expected a bool, got {C.describe(noise_conditional)}")
    x = _samples("x", x)
    sigma = _noise_level("sigma", sigma)
    eps = _standard_normals("noise", noise, rng, x.shape)
    x_tilde = x + sigma * eps
    cond = (np.full(x.shape[0], sigma),) if noise_conditional else ()
    s = _scores(model, x_tilde, *cond)
    return np.mean(0.5 * _sum_features((s + eps / sigma) ** 2))


def geometric_sigmas(sigma_1: float, sigma_L: float, L: int) -> np.ndarray:
    r"""NCSN noise levels: a decreasing geometric sequence from sigma_1 to sigma_L, in float64.

    .. math::

        \sigma_l = \sigma_1 \Bigl(\frac{\sigma_L}{\sigma_1}\Bigr)^{\frac{l-1}{L-1}}, \quad l = 1, \dots, L,
        \qquad \frac{\sigma_1}{\sigma_2} = \dots = \frac{\sigma_{L-1}}{\sigma_L} > 1.

    The end points are exactly ``sigma_1`` and ``sigma_L``.

    Parameters
    ----------
    sigma_1 : float
        The largest level (chosen so that pi(x' | sigma_1) is close to N(0, sigma_1^2 I)), finite.
    sigma_L : float
        The smallest level, 0 < sigma_L < sigma_1 (pi(x' | sigma_L) close to pi(x)).
    L : int
        Number of levels, >= 2.

    Returns
    -------
    (L,) ndarray
        float64 levels, strictly decreasing.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)'; Beigy, Score-Based
    Generative Models, the NCSN slide (decreasing geometric sequence); Song and Ermon, Generative
    Modeling by Estimating Gradients of the Data Distribution, NeurIPS 2019, Section 4.2.
    """
    sigma_1 = C.check_positive_scalar("sigma_1", sigma_1)
    sigma_L = C.check_positive_scalar("sigma_L", sigma_L)
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"L: expected an int >= 2 (number of noise levels), got {C.describe(L)}")
    if not sigma_L < sigma_1:
        raise ValueError(f"sigma_1, sigma_L: expected sigma_1 > sigma_L, got {sigma_1!r} and {sigma_L!r}")
    t = np.arange(L) / (L - 1)
    sigmas = sigma_1 * (sigma_L / sigma_1) ** t
    sigmas[0], sigmas[-1] = sigma_1, sigma_L
    if np.any(np.diff(sigmas) >= 0):
        raise ValueError(
            f"sigma_1, sigma_L, L: the ratio sigma_1 / sigma_L = {sigma_1 / sigma_L!r} is too close to 1 for "
            f"{L} distinct float64 levels"
        )
    return sigmas


def ncsn_loss(
    model: object,
    x: np.ndarray,
    sigmas: np.ndarray,
    *,
    noise_conditional: bool = True,
    levels: np.ndarray | None = None,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""NCSN training loss: sigma^2-weighted denoising score matching at one random level per sample.

    .. math::

        \mathcal L(\theta) \approx \frac1n \sum_{i=1}^n \frac12\, \sigma_{l_i}^2
            \Bigl\lVert s_\theta(\tilde x_i, \sigma_{l_i}) + \frac{\varepsilon_i}{\sigma_{l_i}} \Bigr\rVert_2^2,
        \qquad \tilde x_i = x_i + \sigma_{l_i} \varepsilon_i,\quad l_i \sim U\{1, \dots, L\}.

    Its expectation over the uniform levels is Song and Ermon's
    :math:`\frac1L \sum_l \lambda(\sigma_l)\, \ell(\theta; \sigma_l)` with :math:`\lambda(\sigma) =
    \sigma^2` and :math:`\ell` the DSM objective *with* the 1/2 (:func:`denoising_score_matching`).
    **Factors:** the Lecture 13 objective :math:`\sum_l \sigma_l^2 \mathbb{E}\lVert \cdot \rVert^2`
    (no 1/2, a sum over levels) is 2L times this in expectation; the per-sample loss of its training
    algorithm, :math:`\lVert s_\theta + \varepsilon/\sigma_l \rVert^2`, carries neither the 1/2 nor the
    weight. Beigy's weighted :math:`\mathcal J_{dsm}(\theta, \sigma_t)` is twice the per-level term.
    Computed as written (weight times squared norm).

    Parameters
    ----------
    model : callable
        Noise-conditional score model ``model(x_tilde, sigma)``, ``sigma`` of shape (n,) holding each
        sample's level (or ``model(x_tilde)`` with ``noise_conditional=False``).
    x : (n, ...) array_like
        Clean samples, finite.
    sigmas : (L,) array_like
        Noise levels sigma_1 > ... > sigma_L > 0 (e.g. :func:`geometric_sigmas`).
    noise_conditional : bool
        Default True: pass sigma to the model. Changes only the call.
    levels : (n,) integer array_like, optional
        0-based level indices (index l - 1 for the slide's l), in [0, L). Pre-drawn levels go with
        ``noise``; with ``rng`` they are drawn.
    noise : (n, ...) array_like, optional
        Standard normals eps; requires ``levels``. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``levels = rng.integers(0, L, n)``, then ``noise = rng.standard_normal(x.shape)``.

    Returns
    -------
    () ndarray
        The estimate.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)' (weighted objective and
    training algorithm); Lecture 14, 'Recap of previous lecture' (NCSN training); Beigy, Score-Based
    Generative Models, the NCSN slide (loss weight sigma_t^2); Song and Ermon, NeurIPS 2019, eqs. (5)-(6).
    """
    _check_callable(model)
    if not isinstance(noise_conditional, bool):
        raise TypeError(f"noise_conditional: expected a bool, got {C.describe(noise_conditional)}")
    x = _samples("x", x)
    sigmas = _sigma_table(sigmas)
    L, n = sigmas.shape[0], x.shape[0]
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        if levels is not None:
            raise ValueError("levels: pre-drawn levels go with noise= (with rng= the levels are drawn), got both")
        levels = rng.integers(0, L, size=n)
    elif levels is None:
        raise ValueError("levels: required with noise= (the pre-drawn level index of every sample), got None")
    l = C.as_int_array("levels", levels)
    C.check_shape("levels", l, (n,))
    if np.any(l < 0) or np.any(l >= L):
        raise ValueError(f"levels: expected indices in [0, {L}) (L = {L} levels), got min {l.min()} and max {l.max()}")
    eps = _standard_normals("noise", noise, rng, x.shape)
    sigma = sigmas[l]  # (n,): each sample's level, as the model receives it
    sigma_b = sigma.reshape((n,) + (1,) * (x.ndim - 1))  # broadcast over the feature axes
    x_tilde = x + sigma_b * eps
    cond = (sigma,) if noise_conditional else ()
    s = _scores(model, x_tilde, *cond)
    return np.mean(0.5 * sigma**2 * _sum_features((s + eps / sigma_b) ** 2))


# --------------------------------------------------------------------------- Tweedie


def tweedie_denoise(y: np.ndarray, score: np.ndarray, sigma: float) -> np.ndarray:
    r"""Tweedie's formula: the posterior mean E[x | y] from the score of the noisy marginal.

    .. math::

        \hat x = \mathbb{E}[x \mid y] = y + \sigma^2 \nabla_y \log p_\sigma(y), \qquad
        y = x + \sigma \varepsilon,\ \varepsilon \sim \mathcal N(0, I),\quad
        p_\sigma(y) = \int \mathcal N(y; x, \sigma^2 I)\, p(x)\, dx.

    Exact for any prior p when the score of the noisy marginal is exact; with a learned score
    s_theta(y, sigma) it is the denoiser that DSM trains implicitly.

    Parameters
    ----------
    y : (..., d) array_like
        Noisy observations, finite.
    score : (..., d) array_like
        :math:`\nabla_y \log p_\sigma(y)` at each observation, same shape, finite.
    sigma : float
        Noise standard deviation > 0.

    Returns
    -------
    (..., d) ndarray
        The posterior means.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides "Tweedie's Formula" and its proof; Efron, Tweedie's
    Formula and Selection Bias, JASA 106 (2011).
    """
    y = C.as_float64("y", y)
    score = C.as_float64("score", score)
    C.check_ndim("y", y, 1)
    C.check_shape("score", score, y.shape)
    C.check_finite("y", y)
    C.check_finite("score", score)
    sigma = _noise_level("sigma", sigma)
    return y + sigma**2 * score
