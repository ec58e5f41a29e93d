r"""The ELBO's reconstruction term log p(x_0 | x_1, theta) (Gaussian, or discretised for grid data) and the
assembled NLL bound -L = -log p(x_0 | x_1) + KL(q(x_T | x_0) || p(x_T)) + sum_{t>=2} L_t.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the reconstruction term
E log p(x_0 | x_1, theta) and the assembled bound); Ho, Jain, Abbeel 2020, Section 3.3 and eq. (13) for the
discretised decoder. The KL terms it sums (L_t, the prior KL) are in :mod:`accelerated.diffusion.elbo`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from ._inputs import (
    _F64,
    _at,
    _check_data,
    _check_device,
    _check_same,
    _check_schedule,
    _check_triple,
    _checked,
    _sum_features,
)
from .conversions import _p_mean
from .elbo import _l_t_unchecked, prior_kl
from .schedules import Schedule

__all__ = ["decoder_log_likelihood", "nll_bound"]


def _log_normal_cdf_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(Phi(b) - Phi(a)) for a < b, mirrored to the lower tail above the mean (as the reference)."""
    flip = a > 0
    lo, hi = torch.where(flip, -b, a), torch.where(flip, -a, b)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log(-torch.expm1(log_lo - log_hi))


def _decoder(x0, x_1, eps_pred, schedule, bits) -> torch.Tensor:
    """log p(x_0 | x_1) per element in float64 from float64 inputs (no checks)."""
    t = torch.zeros((), dtype=torch.int64, device=x0.device)
    mu = _p_mean(x_1, eps_pred, t, schedule)
    var = schedule.betas[0]
    if bits is None:
        return -0.5 * _sum_features((x0 - mu) ** 2 / var + torch.log(2.0 * math.pi * var))
    half = 1.0 / (2.0**bits - 1.0)
    inv_sigma = torch.rsqrt(var)
    lower, upper = (x0 - mu - half) * inv_sigma, (x0 - mu + half) * inv_sigma
    interior = _log_normal_cdf_difference(torch.minimum(lower, upper), upper)
    left, right = torch.special.log_ndtr(upper), torch.special.log_ndtr(-lower)
    return _sum_features(torch.where(x0 < -1.0 + half, left, torch.where(x0 > 1.0 - half, right, interior)))


def decoder_log_likelihood(
    x0: torch.Tensor, x_1: torch.Tensor, eps_pred: torch.Tensor, schedule: Schedule, *, bits: int | None = None
) -> torch.Tensor:
    r"""log p(x_0 | x_1, theta) per example: N(x_0 | mu_theta(x_1, 1), beta_1 I), or discretised for grid data.

    .. math::

        \log p(x_0 \mid x_1) = \log \mathcal N\bigl(x_0 \mid \mu_\theta(x_1, 1), \beta_1 I\bigr)
        \quad\text{or}\quad \sum_i \log \bigl[\Phi(\tfrac{\delta_+ - \mu_i}{\sigma_1})
        - \Phi(\tfrac{\delta_- - \mu_i}{\sigma_1})\bigr] \ (\texttt{bits}).

    See :func:`reference.diffusion.decoder_log_likelihood` for the grid (2^bits levels in [-1, 1], bins
    x +- 1 / (2^bits - 1), edge bins to +-inf).

    Parameters
    ----------
    x0, x_1, eps_pred : (n, ...) Tensor
        Data, the noisy sample at position 0 and the noise prediction at it; one shape and device
        (``eps_pred`` may have another floating dtype).
    schedule : Schedule
    bits : int, optional
        Bit depth 1..16 of grid data in [-1, 1]; ``None`` for continuous data.

    Returns
    -------
    (n,) Tensor
        Nats, in the inputs' dtype (float32 at least; evaluated in float64).

    Notes
    -----
    The decoder variance is beta_1 (Ho et al.): the slide's assumption sigma_theta^2 = beta_tilde_t gives
    beta_tilde_1 = 0 at t = 1, a point mass. Bins use ``torch.special.log_ndtr`` in the stable form of the
    reference (no clamp at 1e-12). Grid data outside [-1, 1] is refused with a ``ValueError`` naming
    ``x0``; the result is checked finite by one device assertion (no host read).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model';
    Ho, Jain, Abbeel, NeurIPS 2020, Section 3.3 and eq. (13).

    Examples
    --------
    On a 1-bit grid {-1, 1} the value 1 with mu = 0 has the edge bin's probability 1 - Phi(0) = 1/2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> z = torch.zeros(1, 1, dtype=torch.float64)
    >>> round(decoder_log_likelihood(z + 1.0, z, z, S, bits=1).item(), 12)
    -0.69314718056
    """
    names = ("x0", "x_1", "eps_pred")
    t0 = torch.zeros((), dtype=torch.int64, device=schedule.betas.device) if isinstance(schedule, Schedule) else 0
    x0, x_1, eps_pred, _, schedule = _check_triple(names, x0, x_1, eps_pred, t0, schedule)
    bits = AD.data_bits(bits)
    if bits is not None:
        C.check_in_interval("x0", x0, -1.0, 1.0)
    dtype = C.accumulation_dtype(torch.promote_types(x0.dtype, eps_pred.dtype))
    data = tuple(zip(names, (x0, x_1, eps_pred)))
    out = _decoder(x0.to(_F64), x_1.to(_F64), eps_pred.to(_F64), schedule, bits).to(dtype)
    return _checked(out, data)


def nll_bound(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    schedule: Schedule,
    noise: torch.Tensor | None = None,
    *,
    rng=None,
    bits: int | None = None,
    unit: str = "nats",
) -> torch.Tensor:
    r"""The negative ELBO per example: -log p(x_0 | x_1) + KL(q(x_T | x_0) || p(x_T)) + sum_{t>=2} L_t.

    .. math::

        -\mathcal L(x_0) = -\log p(x_0 \mid x_1, \theta) + \mathrm{KL}(q(x_T \mid x_0) \| \mathcal N(0, I))
        + \sum_{t=2}^T \mathcal L_t \ \ge\ -\log p_\theta(x_0).

    As :func:`reference.diffusion.nll_bound`: x_t = q_sample(x0, t, noise[t]) at each position, T calls of
    ``eps_fn(x_t, t)`` (t an int64 tensor of shape (n,) on x0's device), the terms summed in float64.
    For an evaluation loop: no host read per step, and autograd flows to the model's parameters (the
    bound is a valid, if costly, training loss).

    Parameters
    ----------
    eps_fn : callable
    x0 : (n, ...) Tensor
        On the schedule's device.
    schedule : Schedule
    noise : (T, n, ...) Tensor, optional
        Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws noise[0], ..., noise[T-1] in order, in x0's dtype.
    bits : int, optional
        Bit depth of grid data (the discretised decoder).
    unit : {'nats', 'bits/dim'}

    Returns
    -------
    (n,) Tensor
        In x0's dtype (float32 at least).

    Notes
    -----
    The decoder variance is beta_1 (the slide's beta_tilde_1 is 0). ``eps_fn``'s output shape is checked
    on the first call; a non-finite bound (``eps_fn`` returned NaN or inf, or the terms overflowed) is
    refused with a ``ValueError`` naming ``eps_fn(x_t, t)`` by one device assertion after the loop.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model';
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (5) and Section 4.2 (NLL in bits/dim).

    Examples
    --------
    T = 1 (beta_1 = 0.1), x_0 = 0, noise 0 and eps = 0: log(2 pi 0.1) / 2 + (-0.9 - log 0.1) / 2 (closed form):

    >>> S = Schedule(torch.tensor([0.1], dtype=torch.float64))
    >>> z = torch.zeros(1, 1, dtype=torch.float64)
    >>> round(nll_bound(lambda x, t: 0 * x, z, S, torch.zeros(1, 1, 1, dtype=torch.float64)).item(), 10)
    0.4689385332
    """
    eps_fn, unit = AD.model(eps_fn), A.option("unit", unit, AD.UNITS)
    schedule = _check_schedule(schedule)
    x0 = _check_data("x0", x0, 1)
    AD.nonempty_batch("x0", tuple(x0.shape))
    _check_device("x0", x0, schedule)
    bits = AD.data_bits(bits)
    C.check_finite("x0", x0)
    if bits is not None:
        C.check_in_interval("x0", x0, -1.0, 1.0)
    T = schedule.T
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = C.as_float_tensor("noise", noise)
        C.check_shape("noise", noise, (T, *x0.shape))
        _check_same(("x0", "noise[0]"), (x0, noise[0]))
        C.check_finite("noise", noise)
    else:
        C.check_generator(rng, x0.device)
    dtype = C.accumulation_dtype(x0.dtype)
    x64 = x0.to(_F64)
    total = prior_kl(x0, schedule).to(_F64)
    n = x0.shape[0]
    with C.off_in_loop():
        for t in range(T):
            eps = (
                noise[t]
                if noise is not None
                else torch.randn(x0.shape, generator=rng, device=x0.device, dtype=x0.dtype)
            )
            tt = torch.full((n,), t, dtype=torch.int64, device=x0.device)
            eps64 = eps.to(_F64)
            x_t = torch.addcmul(
                _at(schedule, "sqrt_alpha_bars", tt, x64) * x64,
                _at(schedule, "sqrt_one_minus_alpha_bars", tt, x64),
                eps64,
            )
            eps_pred = eps_fn(x_t.to(x0.dtype), tt)
            if t == 0 and (
                not isinstance(eps_pred, torch.Tensor) or eps_pred.shape != x0.shape or not eps_pred.is_floating_point()
            ):
                raise ValueError(
                    f"eps_fn(x_t, t): expected a floating tensor of shape {tuple(x0.shape)}, got {C.describe(eps_pred)}"
                )
            eps_pred = eps_pred.to(_F64)
            if t == 0:
                total = total - _decoder(x64, x_t, eps_pred, schedule, bits)
            else:
                total = total + _l_t_unchecked(x64, x_t, eps_pred, tt, schedule)
    if unit == "bits/dim":
        total = total / (x0[0].numel() * math.log(2.0))
    if C.value_checks_active():
        C.require(
            C.finite_flag(total),
            "eps_fn(x_t, t): expected finite values (a non-finite bound: eps_fn returned NaN or inf, or the terms "
            "overflowed)",
        )
    return total.to(dtype)
