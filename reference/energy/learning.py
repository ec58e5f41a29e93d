"""Maximum-likelihood learning of an EBM: the log-likelihood gradient and the contrastive-divergence loss.

Slides: Beigy, Score-Based Generative Models, the EBM slide of 'Introduction' (max_theta sum_k
log p_theta(x_k); its differentiation "involves a typically intractable integral"); Advanced Course
on DGM, Lecture 8, 'Learning Energy Based Models' (MCMC-based approximations to maximum likelihood).
Sign convention: see :mod:`reference.energy`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from reference._args import energy as AE

from .. import _checks as C
from .density import QuadraticEnergy, _check_box, _check_points, _evaluate, _trapezoid_grid

__all__ = ["contrastive_divergence_loss", "log_likelihood_gradient"]


def _check_energy_batch(name: str, energy: object) -> np.ndarray:
    E = C.as_float64(name, energy)
    if E.ndim != 1 or E.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty vector of energies of shape (n,), got shape {E.shape}")
    C.check_finite(name, E)
    return E


def contrastive_divergence_loss(energy_pos: np.ndarray, energy_neg: np.ndarray) -> np.ndarray:
    r"""The contrastive-divergence surrogate loss, mean E(x^+) - mean E(x^-), whose gradient is -grad log-lik.

    .. math::

        \mathcal L_{CD}(\theta) = \frac1n \sum_{k=1}^n E_\theta(x_k^+) - \frac1m \sum_{j=1}^m E_\theta(x_j^-),
        \qquad
        -\nabla_\theta \mathcal L_{CD} = -\frac1n \sum_k \nabla_\theta E_\theta(x_k^+)
        + \frac1m \sum_j \nabla_\theta E_\theta(x_j^-),

    with x^+ the data and x^- negatives from the model (treated as constants). The second mean is the
    Monte Carlo estimate of :math:`\mathbb E_{p_\theta}[\nabla_\theta E_\theta]`, so minimising the loss
    follows the log-likelihood gradient of :func:`log_likelihood_gradient`.

    Parameters
    ----------
    energy_pos : (n,) array_like
        Energies of the data, finite, n >= 1.
    energy_neg : (m,) array_like
        Energies of the negatives, finite, m >= 1.

    Returns
    -------
    () ndarray
        The loss.

    Notes
    -----
    Its value is not a divergence and not -log-likelihood (log Z is missing); only its gradient means
    something. A loss that overflows float64 (energies near 1e308 of opposite signs) is refused with a
    ``ValueError`` naming the inputs, never returned as ±inf.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Introduction' (the EBM slide: max_theta sum_k log p_theta(x_k),
    differentiation involves an intractable integral); Advanced Course on DGM, Lecture 8, slide
    'Learning Energy Based Models' (MCMC-based approximations); Hinton, Training Products of Experts by
    Minimizing Contrastive Divergence, 2002; Du and Mordatch, Implicit Generation and Modeling with
    Energy-Based Models, 2019 (negatives from Langevin dynamics).

    Examples
    --------
    Data energies 1 and 3, negative energies 0 and 0.5: 2 - 0.25 = 1.75 (closed form):

    >>> float(contrastive_divergence_loss(np.array([1.0, 3.0]), np.array([0.0, 0.5])))
    1.75
    """
    E_pos = _check_energy_batch("energy_pos", energy_pos)
    E_neg = _check_energy_batch("energy_neg", energy_neg)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.asarray(np.mean(E_pos) - np.mean(E_neg))
    return C.check_result(loss, (("energy_pos", E_pos), ("energy_neg", E_neg)))


def _quadratic_parameter_grads(energy: QuadraticEnergy, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point grad_P E = 1/2 (x - m)(x - m)^T (n, d, d) and grad_m E = -P (x - m) (n, d)."""
    diff = x - energy.mean
    return 0.5 * diff[:, :, None] * diff[:, None, :], -diff @ energy.precision


def log_likelihood_gradient(
    energy: QuadraticEnergy,
    x: np.ndarray,
    negatives: np.ndarray | None = None,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    n_points: int = 201,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The EBM log-likelihood gradient in the parameters, model expectation from negatives or by quadrature.

    .. math::

        \nabla_\theta \frac1n \sum_{k=1}^n \log p_\theta(x_k) = -\frac1n \sum_k \nabla_\theta E_\theta(x_k)
        + \mathbb E_{x \sim p_\theta}[\nabla_\theta E_\theta(x)], \qquad
        (\text{since } \nabla_\theta \log Z_\theta = -\mathbb E_{p_\theta}[\nabla_\theta E_\theta]),

    with the expectation either the mean over given ``negatives`` (samples of p_theta, e.g. Langevin
    chains: contrastive divergence) or, in d <= 2, the trapezoid rule on the grid of
    :func:`log_partition_function`: :math:`\sum_g \pi_g \nabla_\theta E(x_g)`,
    :math:`\pi = \operatorname{softmax}(\log w - E)`.

    For :class:`QuadraticEnergy`, :math:`\nabla_P E = \tfrac12 (x - m)(x - m)^\top` (P treated as an
    unconstrained matrix, the gradient is symmetric) and :math:`\nabla_m E = -P (x - m)`.

    Parameters
    ----------
    energy : QuadraticEnergy
        The model (the reference needs its analytic parameter gradient; the accelerated side takes any
        ``nn.Module`` energy and uses autograd).
    x : (n, d) array_like
        Data, finite, n >= 1.
    negatives : (m, d) array_like, optional
        Samples of the model, finite, m >= 1. Give either ``negatives`` or the box.
    lower, upper : float or (d,) array_like, optional
        The quadrature box (d in (1, 2), lower < upper), as in :func:`log_partition_function`.
    n_points : int
        Grid points per axis for the quadrature.

    Returns
    -------
    tuple of ndarray
        (gradient in the precision (d, d), gradient in the mean (d,)): the order of the accelerated
        ``QuadraticEnergy.parameters()``. Ascend it to raise the likelihood.

    Notes
    -----
    Both ``negatives`` and a box, or neither, is a ``ValueError``. The quadrature misses the mass
    outside the box (choose it to hold the model's mass); its error is that of the trapezoid rule (see
    :func:`log_partition_function`). A gradient that overflows float64 (points near 1e154) is refused
    with a ``ValueError`` naming the inputs.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Introduction' (the EBM slide: max_theta sum_k log p_theta(x_k),
    differentiation involves an intractable integral); Advanced Course on DGM, Lecture 8, slide
    'Learning Energy Based Models' (MCMC-based approximations), slide 'Energy Based Models' (Z(theta));
    Hinton, 2002; Du and Mordatch, 2019; Song and Kingma, How to Train Your Energy-Based Models, 2021,
    Section 2.

    Examples
    --------
    E = x^2 / 2 (P = 1, m = 0), data x = 2: the data term is -(2^2 / 2, -2) = (-2, 2) and E_p[x^2 / 2] = 1/2,
    E_p[-x] = 0 (the standard normal), so the gradient is (-1.5, 2), by negatives +-1 or by quadrature:

    >>> E = QuadraticEnergy(np.eye(1), np.zeros(1))
    >>> g_P, g_m = log_likelihood_gradient(E, np.array([[2.0]]), np.array([[1.0], [-1.0]]))
    >>> float(g_P[0, 0]), float(g_m[0])
    (-1.5, 2.0)
    >>> g_P, g_m = log_likelihood_gradient(E, np.array([[2.0]]), lower=-12.0, upper=12.0)
    >>> round(float(g_P[0, 0]), 10), round(float(g_m[0]), 10)
    (-1.5, 2.0)
    """
    if not isinstance(energy, QuadraticEnergy):
        raise TypeError(
            f"energy: expected a QuadraticEnergy (the reference's analytic parameter gradient), got "
            f"{C.describe(energy)}"
        )
    x = _check_points("x", x, energy.dim)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x: expected a non-empty batch of shape (n, {energy.dim}), got shape {x.shape}")
    box = lower is not None or upper is not None
    if (negatives is None) == (not box):
        raise ValueError("negatives, lower, upper: give either negatives (m, d) or the quadrature box, not both")
    with np.errstate(over="ignore", invalid="ignore"):
        g_P, g_m = _quadratic_parameter_grads(energy, x)
        data = (np.mean(g_P, axis=0), np.mean(g_m, axis=0))
        if negatives is not None:
            neg = _check_points("negatives", negatives, energy.dim)
            if neg.ndim != 2 or neg.shape[0] == 0:
                raise ValueError(
                    f"negatives: expected a non-empty batch of shape (m, {energy.dim}), got shape {neg.shape}"
                )
            n_P, n_m = _quadratic_parameter_grads(energy, neg)
            model = (np.mean(n_P, axis=0), np.mean(n_m, axis=0))
            inputs = (("x", x), ("negatives", neg))
        else:
            _, lo, hi, n = _check_box(energy, lower, upper, n_points)
            if lo.shape[0] != energy.dim:
                raise ValueError(f"lower: expected a box of dimension {x.shape[1]} (the data's), got {lo.shape[0]}")
            points, log_w = _trapezoid_grid(lo, hi, n)
            log_pi = log_w - _evaluate(energy, points)
            log_z = special.logsumexp(log_pi)
            if not np.isfinite(log_z):
                raise ValueError(AE.log_z_message("float64"))
            pi = np.exp(log_pi - log_z)
            keep = pi > 0  # grid points of weight 0 (an overflowed energy) add nothing, not inf * 0
            q_P, q_m = _quadratic_parameter_grads(energy, points[keep])
            model = (np.tensordot(pi[keep], q_P, axes=1), pi[keep] @ q_m)
            inputs = (("x", x),)
        out = (model[0] - data[0], model[1] - data[1])
    for g in out:
        C.check_result(g, inputs)
    return out
