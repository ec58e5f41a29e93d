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
from ._common import _analytic, _check_probes, _checked, _flat, _probes, _samples, _scores, _sum_features

__all__ = [
    "hutchinson_trace",
    "implicit_score_matching",
    "implicit_score_matching_energy",
    "jacobian_trace",
    "sliced_score_matching",
    "sliced_score_matching_energy",
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


# --------------------------------------------------------------------------- energy forms (s = -grad E)


def _check_energy_objective(energy: object, x: object) -> np.ndarray:
    """Points (n, d) and an energy this side can differentiate twice: ``grad`` and ``hess``, or a project class."""
    from reference.energy.density import DoubleWellEnergy, QuadraticEnergy

    known = isinstance(energy, (QuadraticEnergy, DoubleWellEnergy))
    if not callable(getattr(energy, "grad", None)) or not (known or callable(getattr(energy, "hess", None))):
        raise TypeError(
            f"energy: expected an analytic energy with grad(x) (n, d) and hess(x) (n, d, d) methods, or "
            f"reference.energy.QuadraticEnergy / DoubleWellEnergy (Hessians known here; the reference side has "
            f"no autograd), got {C.describe(energy)}"
        )
    x = _samples("x", x)
    if x.ndim != 2:
        raise ValueError(f"x: expected points of shape (n, d) (an energy maps (n, d) to (n,)), got shape {x.shape}")
    return x


def _energy_derivatives(energy: object, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grad E, hess E) at the points x (n, d): (n, d) and (n, d, d), float64, analytic."""
    from reference.energy.density import DoubleWellEnergy, QuadraticEnergy

    n, d = x.shape
    with np.errstate(over="ignore", invalid="ignore"):
        g = C.as_float64("energy.grad(x)", energy.grad(x))
        if callable(getattr(energy, "hess", None)):
            H = C.as_float64("energy.hess(x)", energy.hess(x))
        elif isinstance(energy, QuadraticEnergy):  # grad E = P (x - m): hess E = P at every point
            if energy.dim != d:
                raise ValueError(f"x: expected points of shape (n, {energy.dim}) for this energy, got shape {x.shape}")
            H = np.broadcast_to(energy.precision, (n, d, d))
        else:  # DoubleWellEnergy: d E / d x_i = 4 a x_i (x_i^2 - b), so hess E = diag(4 a (3 x_i^2 - b))
            assert isinstance(energy, DoubleWellEnergy)
            H = np.zeros((n, d, d))
            H[:, np.arange(d), np.arange(d)] = 4.0 * energy.a * (3.0 * x**2 - energy.b)
    if g.shape != x.shape:
        raise ValueError(f"energy.grad(x): expected the shape of x {x.shape}, got shape {g.shape}")
    if H.shape != (n, d, d):
        raise ValueError(f"energy.hess(x): expected shape ({n}, {d}, {d}), got shape {H.shape}")
    return g, H


def implicit_score_matching_energy(energy: object, x: np.ndarray) -> np.ndarray:
    r"""Implicit score matching written for an energy E (the model's score s = -grad E), with the exact Hessian trace.

    .. math::

        J_{ism}(\theta) = \mathbb{E}_{\pi}\Bigl[\frac12 \sum_{i=1}^d \Bigl(\frac{\partial E_\theta}{\partial x_i}
            \Bigr)^2 - \sum_{i=1}^d \frac{\partial^2 E_\theta}{\partial x_i^2}\Bigr]
        \approx \frac1n \sum_{k=1}^n \Bigl[\frac12 \lVert \nabla E(x_k) \rVert^2
            - \operatorname{tr} \nabla^2 E(x_k)\Bigr],

    which is :func:`implicit_score_matching` of the score model :math:`s = -\nabla E`
    (:math:`\operatorname{tr}\nabla s = -\operatorname{tr}\nabla^2 E`,
    :math:`\lVert s \rVert^2 = \lVert \nabla E \rVert^2`), so it equals the Fisher divergence
    :math:`D_F(\pi, p_\theta)` plus a constant in theta.

    Parameters
    ----------
    energy : analytic energy
        ``energy.grad(x)`` (n, d) and ``energy.hess(x)`` (n, d, d); or
        :class:`reference.energy.QuadraticEnergy` (Hessian P) and :class:`reference.energy.DoubleWellEnergy`
        (Hessian diag(4a(3x_i^2 - b))), whose Hessians are known here. This side has no autograd; the
        accelerated side takes any differentiable callable energy (n, d) -> (n,).
    x : (n, d) array_like
        Samples from the data distribution, finite.

    Returns
    -------
    () ndarray
        The estimate.

    Notes
    -----
    **Slide typo.** Beigy's slide writes the energy form as
    :math:`\frac12 \sum_i (\partial E/\partial x_i)^2 + (\partial^2 E/\partial x_i^2)^2`: the second
    derivative is squared and its sign is wrong. The correct form is
    :math:`\frac12 \sum_i (\partial_i E)^2 - \partial_i^2 E`, because :math:`\log p_\theta = -E - \log Z`
    gives :math:`\operatorname{tr}\nabla^2 \log p_\theta = -\sum_i \partial_i^2 E` (linear in E, not
    squared). An estimate that is not finite (a gradient that overflows float64) is refused with a
    ``ValueError`` naming the inputs; never inf or NaN.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (the implicit score matching
    objective in terms of E_theta); Hyvarinen, JMLR 6 (2005), eq. (4); Song and Kingma, How to Train
    Your Energy-Based Models, 2021, Section 4.1.

    Examples
    --------
    E = x^2 / 2 (the energy of N(0, 1)) at x = 2: 1/2 * 2^2 - 1 = 1, the value of s = -x (by hand):

    >>> from reference.energy import QuadraticEnergy
    >>> float(implicit_score_matching_energy(QuadraticEnergy(np.eye(1), np.zeros(1)), np.array([[2.0]])))
    1.0
    """
    x = _check_energy_objective(energy, x)
    g, H = _energy_derivatives(energy, x)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        value = np.mean(0.5 * np.sum(g**2, axis=1) - np.trace(H, axis1=1, axis2=2))
    return _checked(value, (("x", x), ("energy.grad(x)", g)))


def sliced_score_matching_energy(
    energy: object,
    x: np.ndarray,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Sliced score matching written for an energy E (s = -grad E): projections of the gradient and Hessian.

    .. math::

        J_{ssm}(\theta) = \mathbb{E}_{v}\mathbb{E}_{\pi}\Bigl[\frac12 \bigl(v^\top \nabla_x E_\theta(x)\bigr)^2
            - v^\top \nabla_x^2 E_\theta(x)\, v\Bigr]
        \approx \frac1{nM} \sum_{k,j} \Bigl[\frac12 (v_{kj}^\top \nabla E(x_k))^2
            - v_{kj}^\top \nabla^2 E(x_k)\, v_{kj}\Bigr],

    which is :func:`sliced_score_matching` of the score model :math:`s = -\nabla E` on the same probes.

    Parameters
    ----------
    energy : analytic energy
        As in :func:`implicit_score_matching_energy`.
    x : (n, d) array_like
        Samples, finite.
    n_projections, kind, noise, rng
        As in :func:`sliced_score_matching` (probes ``noise`` of shape (M, n, d)).

    Returns
    -------
    () ndarray
        The estimate.

    Notes
    -----
    **Slide typo.** Beigy's slide writes
    :math:`\frac12 \sum_i (\partial_i E\, v_i)^2 + \sum_{i,j} \partial_{ij} E\, v_i v_j`: the Hessian
    term has the wrong sign (:math:`v^\top \nabla^2 \log p_\theta v = -v^\top \nabla^2 E\, v`), and the
    first term must be the square of the sum, :math:`\frac12 (\sum_i \partial_i E\, v_i)^2 =
    \frac12 (v^\top \nabla E)^2`, not a sum of squares (they differ by the cross terms
    :math:`\sum_{i \ne j}`, whose expectation vanishes only for probes with independent zero-mean
    coordinates). A non-finite estimate is refused with a ``ValueError``; never inf or NaN.

    References
    ----------
    Beigy, Score-Based Generative Models, slides 'Denoising Score Matching (DSM)' (the sliced Fisher
    divergence in terms of E_theta); Advanced Course on DGM, Lecture 8, slide 'Sliced Score Matching';
    Song, Garg, Shi, Ermon, UAI 2019, eq. (8).

    Examples
    --------
    E = x^2 / 2 at x = 2 with v = 1: 1/2 * 2^2 - 1 = 1, as :func:`sliced_score_matching` of s = -x (by hand):

    >>> from reference.energy import QuadraticEnergy
    >>> E = QuadraticEnergy(np.eye(1), np.zeros(1))
    >>> float(sliced_score_matching_energy(E, np.array([[2.0]]), noise=np.ones((1, 1, 1))))
    1.0
    """
    x = _check_energy_objective(energy, x)
    v = _probes(x, "n_projections", n_projections, kind, noise, rng)
    g, H = _energy_derivatives(energy, x)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        vHv = np.einsum("mni,nij,mnj->mn", v, H, v)
        vg = np.einsum("mni,ni->mn", v, g)
        value = np.mean(0.5 * vg**2 - vHv)
    return _checked(value, (("x", x), ("noise", v), ("energy.grad(x)", g)))
