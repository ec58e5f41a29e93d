r"""The forward process q: one noising step, q(x_t | x_0) in one jump, and the posterior q(x_{t-1} | x_t, x_0).

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward Markov chain and
q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I)), 'Training' (step 3) and 'DDPM vs NCSN' (q(x_t | x_0)).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._inputs import _at, _check_pair, _check_same, _check_single, _checked, _noise
from .schedules import Schedule

__all__ = ["Posterior", "q_posterior", "q_sample", "q_step"]


def q_step(x_prev: torch.Tensor, t: torch.Tensor, schedule: Schedule, noise: torch.Tensor | None = None, *, rng=None):
    r"""One forward step x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps.

    .. math::

        q(x_t \mid x_{t-1}) = \mathcal N(\sqrt{1 - \beta_t}\, x_{t-1}, \beta_t I).

    Parameters
    ----------
    x_prev : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    noise : (n, ...) Tensor, optional
        eps; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        On the data's device.

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (2).

    Examples
    --------
    With eps = 0 one step scales x_0 = 1 by sqrt(1 - beta_1) = sqrt(0.9):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> q_step(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([0]), S, torch.tensor([[0.0]], dtype=torch.float64)
    ... ).item()
    0.9487
    """
    x_prev, t, schedule = _check_single("x_prev", x_prev, t, schedule)
    eps = _noise(noise, rng, x_prev)
    _check_same(("x_prev", "noise"), (x_prev, eps))
    x_t = torch.addcmul(_at(schedule, "sqrt_alphas", t, x_prev) * x_prev, _at(schedule, "sqrt_betas", t, x_prev), eps)
    return _checked(x_t, (("x_prev", x_prev), ("noise", eps)))


def q_sample(x0: torch.Tensor, t: torch.Tensor, schedule: Schedule, noise: torch.Tensor | None = None, *, rng=None):
    r"""Closed-form noising x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.

    .. math::

        q(x_t \mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I).

    Parameters
    ----------
    x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    noise : (n, ...) Tensor, optional
        eps; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Training' and 'DDPM vs NCSN'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): with eps = 0, x_t = sqrt(0.36) x_0 at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> q_sample(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([2]), S, torch.tensor([[0.0]], dtype=torch.float64)
    ... ).item()
    0.6
    """
    x0, t, schedule = _check_single("x0", x0, t, schedule)
    eps = _noise(noise, rng, x0)
    _check_same(("x0", "noise"), (x0, eps))
    x_t = torch.addcmul(
        _at(schedule, "sqrt_alpha_bars", t, x0) * x0, _at(schedule, "sqrt_one_minus_alpha_bars", t, x0), eps
    )
    return _checked(x_t, (("x0", x0), ("noise", eps)))


class Posterior(NamedTuple):
    """Mean and variance of q(x_{t-1} | x_t, x_0); the variance broadcasts against the mean.

    Examples
    --------
    A mean and a variance (the fields of q(x_(t-1) | x_t, x_0)):

    >>> Posterior(mean=1.0, variance=0.5).variance
    0.5
    """

    mean: torch.Tensor
    variance: torch.Tensor


def q_posterior(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> Posterior:
    r"""Mean and variance of q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I).

    .. math::

        \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
                    + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t,
        \qquad \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t.

    Parameters
    ----------
    x0, x_t : (n, ...) Tensor
        One shape, dtype and device.
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    Posterior
        ``mean`` (n, ...) and ``variance`` of shape ``t.shape + (1,) * (x.ndim - t.ndim)``, in the data's dtype.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020,
    eqs. (6)-(7).

    Examples
    --------
    At position 0 the posterior is the point mass at x_0 = 2 (mean x_0, variance 0):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> [
    ...     v.item()
    ...     for v in q_posterior(
    ...         torch.tensor([[2.0]], dtype=torch.float64),
    ...         torch.tensor([[5.0]], dtype=torch.float64),
    ...         torch.tensor([0]),
    ...         S,
    ...     )
    ... ]
    [2.0, 0.0]
    """
    x0, x_t, t, schedule = _check_pair(("x0", "x_t"), x0, x_t, t, schedule)
    coef_x0 = _at(schedule, "posterior_mean_coef_x0", t, x0)
    mean = torch.addcmul(coef_x0 * x0, _at(schedule, "posterior_mean_coef_xt", t, x0), x_t)
    return Posterior(_checked(mean, (("x0", x0), ("x_t", x_t))), _at(schedule, "beta_tilde", t, x0))
