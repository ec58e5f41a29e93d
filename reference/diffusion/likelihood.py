r"""The ELBO's reconstruction term log p(x_0 | x_1, theta) (Gaussian, or discretised for grid data) and the
assembled NLL bound -L = -log p(x_0 | x_1) + KL(q(x_T | x_0) || p(x_T)) + sum_{t>=2} L_t.

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the reconstruction term
E log p(x_0 | x_1, theta) and the assembled bound); Ho, Jain, Abbeel 2020, Section 3.3 and eq. (13) for the
discretised decoder. The KL terms it sums (L_t, the prior KL) are in :mod:`reference.diffusion.elbo`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from ._inputs import (
    _at,
    _check_data,
    _check_schedule,
    _check_triple,
    _sum_features,
)
from .conversions import _p_mean
from .elbo import _l_t_unchecked, prior_kl
from .schedules import Schedule

__all__ = ["decoder_log_likelihood", "nll_bound"]


def _log_normal_cdf_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Phi(b) - Phi(a)) for a < b, stably: in the upper tail through Phi(-a) - Phi(-b), then
    log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b))) (no 1 - 1 cancellation, no log 0 for far tails)."""
    flip = a > 0
    lo, hi = np.where(flip, -b, a), np.where(flip, -a, b)
    log_hi, log_lo = special.log_ndtr(hi), special.log_ndtr(lo)
    with np.errstate(divide="ignore"):
        return log_hi + np.log(-np.expm1(log_lo - log_hi))


def _decoder(x0: np.ndarray, x_1: np.ndarray, eps_pred: np.ndarray, schedule: Schedule, bits: int | None):
    """log p(x_0 | x_1) per element on checked inputs (position 0), unchecked result."""
    t = np.zeros((), dtype=np.int64)
    mu = _p_mean(x_1, eps_pred, t, schedule)
    var = schedule.betas[0]
    if bits is None:
        with np.errstate(over="ignore", invalid="ignore"):
            return -0.5 * _sum_features((x0 - mu) ** 2 / var + np.log(2.0 * np.pi * var))
    half = 1.0 / (2.0**bits - 1.0)  # half a bin: the grid -1, -1 + 2 half, ..., 1
    inv_sigma = 1.0 / np.sqrt(var)
    with np.errstate(over="ignore", invalid="ignore"):
        lower, upper = (x0 - mu - half) * inv_sigma, (x0 - mu + half) * inv_sigma
        interior = _log_normal_cdf_difference(np.minimum(lower, upper), upper)
        out = np.where(
            x0 < -1.0 + half, special.log_ndtr(upper), np.where(x0 > 1.0 - half, special.log_ndtr(-lower), interior)
        )
    return _sum_features(out)


def decoder_log_likelihood(
    x0: np.ndarray, x_1: np.ndarray, eps_pred: np.ndarray, schedule: Schedule, *, bits: int | None = None
) -> np.ndarray:
    r"""The ELBO's reconstruction term log p(x_0 | x_1, theta) per example: Gaussian, or discretised for grid data.

    .. math::

        \log p(x_0 \mid x_1) = \log \mathcal N\bigl(x_0 \mid \mu_\theta(x_1, 1), \sigma_1^2 I\bigr),
        \qquad \sigma_1^2 = \beta_1,

    with mu_theta from ``eps_pred`` (:func:`p_mean_from_eps` at position 0, the slide's t = 1). For data
    on a grid (``bits`` given: 2^bits levels in [-1, 1], spacing 2 / (2^bits - 1), e.g. 2/255 for 8-bit
    images) the discretised decoder of Ho et al. 2020, Section 3.3 (eq. 13):

    .. math::

        p(x_0 \mid x_1) = \prod_i \int_{\delta_-(x_{0,i})}^{\delta_+(x_{0,i})}
        \mathcal N(x \mid \mu_{\theta,i}(x_1, 1), \sigma_1^2)\, dx, \qquad
        \delta_\pm(x) = x \pm \tfrac{1}{2^{\text{bits}} - 1}, \ \delta_-(-1) = -\infty, \ \delta_+(1) = +\infty,

    a log-probability (<= 0). The slide's L is E_{q(x_1 | x_0)} of this: pass x_1 = q_sample(x0, 0, eps).

    Parameters
    ----------
    x0 : (n, ...) array_like
        Data; with ``bits``, in [-1, 1] (its grid values; a value off the grid is scored by its bin).
    x_1, eps_pred : (n, ...) array_like
        The noisy sample at position 0 and the model's noise prediction at it; the shape of ``x0``.
    schedule : Schedule
    bits : int, optional
        Bit depth 1..16 of grid data; ``None`` (default) for the Gaussian density of continuous data.

    Returns
    -------
    (n,) ndarray
        log p(x_0 | x_1) in nats, summed over the feature axes.

    Notes
    -----
    The decoder variance is beta_1, as in Ho et al. (their sigma_1^2 = beta_1). The slide's assumption
    sigma_theta^2(x_t, t) = beta_tilde_t would give beta_tilde_1 = beta_1 (1 - alpha_bar_0) / (1 - alpha_bar_1)
    = 0 at t = 1 (alpha_bar_0 = 1): a point mass, whose log-density is not finite; Ho et al. note that
    both choices give similar results for t >= 2 and use beta_1 for the decoder.

    The bins' log-probabilities are evaluated stably: log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b)))
    with SciPy's ``log_ndtr``, mirrored to the lower tail (Phi(-a) - Phi(-b)) for bins above the mean, so
    a bin far in a tail has a finite log-probability (Ho et al.'s code clamps the probability at 1e-12
    instead). Grid data outside [-1, 1] is refused with a ``ValueError`` naming ``x0``, and a result that
    is not finite from finite inputs (data at 1e300) with one saying it overflowed.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (E log p(x_0 | x_1, theta));
    Ho, Jain, Abbeel, Denoising Diffusion Probabilistic Models, NeurIPS 2020, Section 3.3 and eq. (13).

    Examples
    --------
    A perfect mean (mu = x_0) at beta_1 = 0.1: log N(1 | 1, 0.1) = -log(2 pi 0.1) / 2 (closed form); on
    a 1-bit grid {-1, 1} the value 1 with mu = 0 has the edge bin's probability 1 - Phi(0) = 1/2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> x1 = np.sqrt(0.9) * np.array([[1.0]])  # q_sample(x_0 = 1, position 0, eps = 0)
    >>> round(decoder_log_likelihood(np.array([[1.0]]), x1, np.array([[0.0]]), S).item(), 12)
    0.232354013292
    >>> round(decoder_log_likelihood(np.array([[1.0]]), np.array([[0.0]]), np.array([[0.0]]), S, bits=1).item(), 12)
    -0.69314718056
    """
    names = ("x0", "x_1", "eps_pred")
    x0, x_1, eps_pred, _, schedule = _check_triple(names, x0, x_1, eps_pred, np.zeros((), np.int64), schedule)
    bits = AD.data_bits(bits)
    if bits is not None:
        C.check_in_interval("x0", x0, -1.0, 1.0)
    out = _decoder(x0, x_1, eps_pred, schedule, bits)
    return C.check_result(out, tuple(zip(names, (x0, x_1, eps_pred))))


def nll_bound(
    eps_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x0: np.ndarray,
    schedule: Schedule,
    noise: np.ndarray | None = None,
    *,
    rng=None,
    bits: int | None = None,
    unit: str = "nats",
) -> np.ndarray:
    r"""The negative ELBO per example, -L = -log p(x_0 | x_1) + KL(q(x_T | x_0) || p(x_T)) + sum_{t>=2} L_t.

    .. math::

        -\mathcal L(x_0) = -\log p(x_0 \mid x_1, \theta) + \mathrm{KL}(q(x_T \mid x_0) \| \mathcal N(0, I))
        + \sum_{t=2}^T \mathrm{KL}\bigl(q(x_{t-1} \mid x_t, x_0) \| p(x_{t-1} \mid x_t, \theta)\bigr)
        \ \ge\ -\log p_\theta(x_0),

    one Monte-Carlo sample of each expectation: x_t = q_sample(x0, t, noise[t]) at every position t
    (0: the reconstruction term :func:`decoder_log_likelihood`; 1..T-1: :func:`l_t`, the slide's
    t = 2..T), and the prior term :func:`prior_kl` in closed form. ``eps_fn(x_t, t)`` is called T times,
    with t an int64 array of shape (n,) (all entries equal), as by :func:`ddpm_sample`. An evaluation
    loop averages the result over a data set (and over draws of ``noise``); with noise of mean-zero
    nodes and weights of a quadrature (Gauss-Hermite) the weighted sum is the expectation exactly for
    models linear in x_t.

    Parameters
    ----------
    eps_fn : callable
        The noise model eps_theta(x_t, t).
    x0 : (n, ...) array_like
        Data (with ``bits``: in [-1, 1]).
    schedule : Schedule
    noise : (T, n, ...) array_like, optional
        noise[t] is the eps of position t. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws noise[0], ..., noise[T-1] in order.
    bits : int, optional
        Bit depth of grid data: the discretised decoder (see :func:`decoder_log_likelihood`).
    unit : {'nats', 'bits/dim'}
        ``"bits/dim"`` divides by D log 2 (D features per example), the unit of Ho et al.'s Table 2.

    Returns
    -------
    (n,) ndarray
        The NLL bound per example.

    Notes
    -----
    The decoder variance is beta_1 (see :func:`decoder_log_likelihood`: the slide's beta_tilde_1 is 0).
    An ``eps_fn`` output of another shape or with non-finite values is refused with a ``ValueError``
    naming ``eps_fn(x_t, t)``; a bound that is not finite from finite inputs is refused as overflowed.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model';
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (5) and Section 4.2 (NLL in bits/dim).

    Examples
    --------
    T = 1 (beta_1 = 0.1): the bound is -log p(x_0 | x_1) + KL(q(x_1 | x_0) || N(0, 1)); for x_0 = 0, noise 0
    and eps = 0, log(2 pi 0.1) / 2 + (-0.9 - log 0.1) / 2 (closed form):

    >>> S = Schedule(np.array([0.1]))
    >>> round(nll_bound(lambda x, t: 0 * x, np.array([[0.0]]), S, np.zeros((1, 1, 1))).item(), 10)
    0.4689385332
    """
    eps_fn, unit = AD.model(eps_fn), A.option("unit", unit, AD.UNITS)
    schedule = _check_schedule(schedule)
    x0 = _check_data("x0", x0, 1)
    AD.nonempty_batch("x0", x0.shape)
    bits = AD.data_bits(bits)
    if bits is not None:
        C.check_in_interval("x0", x0, -1.0, 1.0)
    T = schedule.T
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = _check_data("noise", noise)
        C.check_shape("noise", noise, (T, *x0.shape))
    total = prior_kl(x0, schedule)
    n = x0.shape[0]
    for t in range(T):
        eps = noise[t] if noise is not None else rng.standard_normal(x0.shape)
        tt = np.full(n, t, dtype=np.int64)
        x_t = _at(schedule, "sqrt_alpha_bars", tt, x0) * x0 + _at(schedule, "sqrt_one_minus_alpha_bars", tt, x0) * eps
        eps_pred = C.as_float64("eps_fn(x_t, t)", eps_fn(x_t, tt))
        if eps_pred.shape != x0.shape:
            raise ValueError(f"eps_fn(x_t, t): expected an output of shape {x0.shape}, got shape {eps_pred.shape}")
        C.check_finite("eps_fn(x_t, t)", eps_pred)
        with np.errstate(over="ignore", invalid="ignore"):
            if t == 0:
                total = total - _decoder(x0, x_t, eps_pred, schedule, bits)
            else:
                total = total + _l_t_unchecked(x0, x_t, eps_pred, tt, schedule)
    if unit == "bits/dim":
        total = total / (x0[0].size * np.log(2.0))
    return C.check_result(total, (("x0", x0),))
