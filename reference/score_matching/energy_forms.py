"""Implicit and sliced score matching written for an energy E (the model's score s = -grad E).

Slides: Beigy, Score-Based Generative Models, 'Score Matching (SM)' (the implicit score matching
objective in terms of E_theta) and 'Denoising Score Matching (DSM)' (the sliced Fisher divergence in
terms of E_theta): the energy forms, with the slides' typos corrected as each function's Notes say
(the second derivative squared and of the wrong sign; the sliced first term a sum of squares instead
of the square of the sum). The energies here are analytic (``energy.grad``, ``energy.hess``, or a
project class whose Hessian is known): this side has no autograd. Conventions in
:mod:`reference.score_matching`.
"""

from __future__ import annotations

import numpy as np

from .. import _checks as C
from ._common import _checked, _probes, _samples

__all__ = ["implicit_score_matching_energy", "sliced_score_matching_energy"]


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
