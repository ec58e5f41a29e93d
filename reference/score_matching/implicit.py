"""Implicit (Hyvarinen) score matching with the exact Jacobian trace, Hutchinson's trace, sliced score matching.

Slides: Advanced Course on DGM, Lecture 8, 'Score Matching', 'Proof: 1D', 'Hard to scale' and 'Sliced
Score Matching'; Isachenko, DGM Lecture 13, 'Implicit score matching' and 'Sliced score matching
(Hutchinson's trace estimation)'; Beigy, Score-Based Generative Models, the implicit and sliced score
matching slides. The models here are analytic (``model.divergence``, ``model.jacobian``): this side has
no autograd. Conventions in :mod:`reference.score_matching`.
"""

from __future__ import annotations

import numpy as np

import reference._args.score_matching as SA

from .. import _checks as C
from ._common import _analytic, _check_probes, _checked, _flat, _samples, _scores, _sum_features

__all__ = [
    "hutchinson_trace",
    "implicit_score_matching",
    "jacobian_trace",
    "sliced_score_matching",
    "sliced_score_matching_vr",
]


def _check_trace(model: object, x: object, chunk_size: object, method: object) -> tuple[np.ndarray, int | None, str]:
    """(x, chunk_size, method) of the exact trace: an analytic model with a divergence, samples, the options."""
    _analytic(model, "divergence")
    chunk_size, method = SA.trace_arguments(chunk_size, method)
    return _samples("x", x), chunk_size, method


def _divergences(model: object, x: np.ndarray) -> np.ndarray:
    """model.divergence(x): (n,), the exact trace of the Jacobian at every sample."""
    tr = C.as_float64("model.divergence(x)", model.divergence(x))
    if tr.shape != x.shape[:1]:
        raise ValueError(f"model: expected model.divergence(x) of shape {x.shape[:1]}, got shape {tr.shape}")
    return tr


def _jacobians(model: object, x: np.ndarray) -> np.ndarray:
    """model.jacobian(x): (n, D, D), the Jacobian of the flattened map of the D features at every sample."""
    J = C.as_float64("model.jacobian(x)", model.jacobian(x))
    n, D = _flat(x).shape
    if J.shape != (n, D, D):
        raise ValueError(f"model: expected model.jacobian(x) of shape ({n}, {D}, {D}), got shape {J.shape}")
    return J


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

    Notes
    -----
    A trace that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Hard to scale' (the diagonal of grad_x s_theta);
    Isachenko, DGM Lecture 13, slide 'Implicit score matching'.

    Examples
    --------
    The linear score s(x) = x W + b has the Jacobian W^T, whose trace is tr W = 1 + 4 = 5 at every x:

    >>> from reference.models import LinearScore
    >>> jacobian_trace(LinearScore(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros(2)), np.zeros((2, 2))).tolist()
    [5.0, 5.0]
    """
    x, chunk_size, method = _check_trace(model, x, chunk_size, method)
    return _checked(_divergences(model, x), (("x", x),))


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

    Notes
    -----
    An estimate that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Implicit score matching' (theorem, proof only for 1D);
    Advanced Course on DGM, Lecture 8, slides 'Score Matching' and 'Proof: 1D'; Beigy, Score-Based
    Generative Models, slide 'Score Matching (SM)' (the implicit score matching objective); Hyvarinen,
    JMLR 6 (2005), Theorem 1.

    Examples
    --------
    s(x) = -x in 2-D at x = (1, 0): 1/2 ||s||^2 + tr(-I) = 1/2 - 2 = -1.5 (by hand):

    >>> from reference.models import LinearScore
    >>> float(implicit_score_matching(LinearScore(-np.eye(2), np.zeros(2)), np.array([[1.0, 0.0]])))
    -1.5
    """
    x, chunk_size, method = _check_trace(model, x, chunk_size, method)
    tr = _divergences(model, x)
    s = _scores(model, x)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        value = np.mean(0.5 * _sum_features(s**2) + tr)
    return _checked(value, (("x", x), ("model(x)", s)))


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

    Notes
    -----
    An estimate that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Sliced score matching (Hutchinson's trace estimation)';
    Hutchinson, A stochastic estimator of the trace of the influence matrix for Laplacian smoothing
    splines, Comm. Statist. Simulation Comput. 18 (1989).

    Examples
    --------
    For W = [[1, 2], [3, 4]] the probes (1, 1) and (1, -1) give v^T W v = 10 and 0, whose mean is
    tr W = 5 exactly (the off-diagonal terms cancel):

    >>> from reference.models import LinearScore
    >>> model = LinearScore(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros(2))
    >>> hutchinson_trace(model, np.zeros((1, 2)), noise=np.array([[[1.0, 1.0]], [[1.0, -1.0]]])).tolist()
    [5.0]
    """
    x, v = _check_probes(model, x, "n_probes", n_probes, kind, noise, rng)
    J = _jacobians(model, x)
    v = v.reshape(v.shape[0], *_flat(x).shape)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        value = np.mean(np.einsum("mni,nij,mnj->mn", v, J, v), axis=0)
    return _checked(value, (("x", x), ("noise", v)))


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

    Notes
    -----
    An estimate that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Sliced Score Matching'; Beigy, Score-Based Generative
    Models, slides 'Denoising Score Matching (DSM)' (the sliced score matching estimator there, over m
    samples and M projections each); Isachenko, DGM Lecture 13, slide 'Sliced score matching (Hutchinson's trace
    estimation)'; Song, Garg, Shi, Ermon, Sliced Score Matching: A Scalable Approach to Density and
    Score Estimation, UAI 2019, eq. (8).

    Examples
    --------
    In 1-D with v = 1 the projection is exact: s(x) = -x at x = 2 gives -1 + 1/2 (-2)^2 = 1, the
    implicit score matching value (by hand):

    >>> from reference.models import LinearScore
    >>> model = LinearScore(-np.eye(1), np.zeros(1))
    >>> float(sliced_score_matching(model, np.array([[2.0]]), noise=np.ones((1, 1, 1))))
    1.0
    """
    x, v = _check_probes(model, x, "n_projections", n_projections, kind, noise, rng)
    s = _scores(model, x)
    J = _jacobians(model, x)
    v = v.reshape(v.shape[0], *_flat(x).shape)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        vJv = np.einsum("mni,nij,mnj->mn", v, J, v)
        vs = np.einsum("mni,ni->mn", v, _flat(s))
        value = np.mean(vJv + 0.5 * vs**2)
    return _checked(value, (("x", x), ("noise", v), ("model(x)", s)))


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

    Notes
    -----
    An estimate that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.

    References
    ----------
    Song, Garg, Shi, Ermon, Sliced Score Matching: A Scalable Approach to Density and Score
    Estimation, UAI 2019, eq. (9) (SSM-VR); Isachenko, DGM Lecture 13, slide 'Sliced score matching
    (Hutchinson's trace estimation)'.

    Examples
    --------
    s(x) = -x at x = 2 with v = 1: -1 + 1/2 ||s||^2 = 1, as :func:`sliced_score_matching` (by hand):

    >>> from reference.models import LinearScore
    >>> model = LinearScore(-np.eye(1), np.zeros(1))
    >>> float(sliced_score_matching_vr(model, np.array([[2.0]]), noise=np.ones((1, 1, 1))))
    1.0
    """
    x, v = _check_probes(model, x, "n_projections", n_projections, kind, noise, rng)
    s = _scores(model, x)
    J = _jacobians(model, x)
    v = v.reshape(v.shape[0], *_flat(x).shape)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        vJv = np.einsum("mni,nij,mnj->mn", v, J, v)
        value = np.mean(vJv) + np.mean(0.5 * _sum_features(s**2))
    return _checked(value, (("x", x), ("noise", v), ("model(x)", s)))
