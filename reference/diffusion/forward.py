r"""The forward process q: one noising step, q(x_t | x_0) in one jump, and the posterior q(x_{t-1} | x_t, x_0).

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward Markov chain and
q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I)), 'Training' (step 3) and 'DDPM vs NCSN' (q(x_t | x_0)).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._inputs import _at, _check_pair, _check_single, _noise
from .schedules import Schedule

__all__ = ["Posterior", "q_posterior", "q_sample", "q_step"]


def q_step(x_prev: np.ndarray, t: np.ndarray, schedule: Schedule, noise: np.ndarray | None = None, *, rng=None):
    r"""One forward step: a draw from q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I).

    .. math::

        x_t = \sqrt{1 - \beta_t}\, x_{t-1} + \sqrt{\beta_t}\, \epsilon, \qquad \epsilon \sim \mathcal N(0, I).

    Parameters
    ----------
    x_prev : (n, ...) array_like
        x_{t-1} (the data x_0 at position 0).
    t : () or (n,) int array_like
        Positions 0..T-1 of the step being taken.
    schedule : Schedule
    noise : (n, ...) array_like, optional
        The standard normals eps, shape of ``x_prev``. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional

    Returns
    -------
    (n, ...) ndarray
        x_t.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward Markov chain);
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (2).

    Examples
    --------
    With eps = 0 one step scales x_0 = 1 by sqrt(1 - beta_1) = sqrt(0.9):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> q_step(np.array([[1.0]]), np.array([0]), S, np.array([[0.0]])).item()
    0.9487
    """
    x_prev, t, schedule = _check_single("x_prev", x_prev, t, schedule)
    eps = _noise(noise, rng, x_prev)
    beta = _at(schedule, "betas", t, x_prev)
    return np.sqrt(1.0 - beta) * x_prev + np.sqrt(beta) * eps


def q_sample(x0: np.ndarray, t: np.ndarray, schedule: Schedule, noise: np.ndarray | None = None, *, rng=None):
    r"""A draw from q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) (closed-form noising).

    .. math::

        x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \qquad \epsilon \sim \mathcal N(0, I).

    Parameters
    ----------
    x0 : (n, ...) array_like
        Data.
    t : () or (n,) int array_like
        Positions 0..T-1 (slide step t + 1).
    schedule : Schedule
    noise : (n, ...) array_like, optional
        eps, shape of ``x0``. Exactly one of ``noise`` and ``rng`` (pass ``noise`` to keep eps for the loss).
    rng : numpy.random.Generator, optional

    Returns
    -------
    (n, ...) ndarray
        x_t.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Training' (step 3) and 'DDPM vs NCSN' (q(x_t | x_0));
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): with eps = 0, x_t = sqrt(0.36) x_0 at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> q_sample(np.array([[1.0]]), np.array([2]), S, np.array([[0.0]])).item()
    0.6
    """
    x0, t, schedule = _check_single("x0", x0, t, schedule)
    eps = _noise(noise, rng, x0)
    return _at(schedule, "sqrt_alpha_bars", t, x0) * x0 + _at(schedule, "sqrt_one_minus_alpha_bars", t, x0) * eps


class Posterior(NamedTuple):
    """Mean and variance of the Gaussian q(x_{t-1} | x_t, x_0); the variance broadcasts against the mean.

    Examples
    --------
    A mean and a variance (the fields of q(x_(t-1) | x_t, x_0)):

    >>> Posterior(mean=1.0, variance=0.5).variance
    0.5
    """

    mean: np.ndarray
    variance: np.ndarray


def q_posterior(x0: np.ndarray, x_t: np.ndarray, t: np.ndarray, schedule: Schedule) -> Posterior:
    r"""Mean and variance of the forward-process posterior q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde I).

    .. math::

        \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
                    + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t,
        \qquad
        \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t.

    At position 0 the posterior is the point mass at x_0 (mean x_0, variance 0).

    Parameters
    ----------
    x0, x_t : (n, ...) array_like
        Data and its noisy version at position t, one shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    Posterior
        ``mean`` of shape (n, ...) and ``variance`` of shape ``t.shape + (1,) * (x.ndim - t.ndim)``.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model';
    Ho, Jain, Abbeel, NeurIPS 2020, eqs. (6)-(7).

    Examples
    --------
    At position 0 the posterior is the point mass at x_0 = 2 (mean x_0, variance 0):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> [v.item() for v in q_posterior(np.array([[2.0]]), np.array([[5.0]]), np.array([0]), S)]
    [2.0, 0.0]
    """
    x0, x_t, t, schedule = _check_pair(("x0", "x_t"), x0, x_t, t, schedule)
    coef_x0 = _at(schedule, "posterior_mean_coef_x0", t, x0)
    coef_xt = _at(schedule, "posterior_mean_coef_xt", t, x0)
    return Posterior(coef_x0 * x0 + coef_xt * x_t, _at(schedule, "beta_tilde", t, x0))
