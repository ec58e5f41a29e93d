r"""Ancestral sampling: one reverse step, the sampling loop, and the exact eps of Gaussian data.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'Sampling' (Ho et al. Algorithm 2); Lecture 14, recap 'DDPM objective'
(the exact eps of Gaussian data through its score).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from .._checks import _HALF
from ._inputs import (
    _F64,
    _at,
    _check_data,
    _check_device,
    _check_positions,
    _check_same,
    _check_schedule,
    _checked,
    _noise,
)
from .conversions import _p_mean
from .schedules import Schedule

__all__ = ["GaussianEps", "ddpm_sample", "ddpm_step"]


def _step(x_t, eps_pred, t, schedule, z, clip, guidance=None, scale=1.0) -> torch.Tensor:
    if clip is None:
        mean = _p_mean(x_t, eps_pred, t, schedule)
    else:
        x0_hat = (x_t - _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t) * eps_pred) / _at(
            schedule, "sqrt_alpha_bars", t, x_t
        )
        x0_hat = x0_hat.clamp(clip[0], clip[1])
        mean = torch.addcmul(
            _at(schedule, "posterior_mean_coef_x0", t, x_t) * x0_hat,
            _at(schedule, "posterior_mean_coef_xt", t, x_t),
            x_t,
        )
    if guidance is not None:  # L14 'Guided sampling' step 4: mu + beta_tilde g, g at x_{t-1} = mu
        g = _guidance_output(guidance(mean, t.expand(x_t.shape[:1]) if t.ndim == 0 else t), mean)
        mean = torch.addcmul(mean, _at(schedule, "beta_tilde", t, x_t) * scale, g.to(mean.dtype))
    return torch.addcmul(mean, _at(schedule, "sqrt_beta_tilde", t, x_t), z)


def _guidance_output(g: object, mean: torch.Tensor) -> torch.Tensor:
    if not isinstance(g, torch.Tensor) or g.shape != mean.shape or not g.is_floating_point():
        raise ValueError(
            f"guidance(x, t): expected a floating tensor of shape {tuple(mean.shape)}, got {C.describe(g)}"
        )
    return g


def ddpm_step(
    x_t: torch.Tensor,
    eps_pred: torch.Tensor,
    t: torch.Tensor,
    schedule: Schedule,
    noise: torch.Tensor | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
    guidance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    guidance_scale: float = 1.0,
) -> torch.Tensor:
    r"""One ancestral step x_{t-1} = mu_theta(x_t, t) + sqrt(beta_tilde_t) z (no noise at position 0).

    .. math::

        x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{1 - \alpha_t}{\sqrt{1 - \bar\alpha_t}}
        \epsilon_\theta\Bigr) + \sqrt{\tilde\beta_t}\, z.

    beta_tilde = 0 at position 0, so the last step adds no noise; per-element ``t`` needs no branch.
    ``clip_x0=(low, high)`` uses mu_tilde_t(x_t, clip(x0_hat)) instead (see
    :func:`reference.diffusion.ddpm_step`). For a whole chain use :func:`ddpm_sample`, which skips the
    per-call checks of this function.

    Parameters
    ----------
    x_t, eps_pred : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    noise : (n, ...) Tensor, optional
        z; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
    clip_x0 : (float, float), optional
    guidance : callable, optional
        ``guidance(x, t)``: g = grad log p(y | x) at x = mu; the step is mu + gamma beta_tilde g + sqrt(beta_tilde) z
        (L14 'Guided sampling', algorithm 1; see :func:`reference.diffusion.ddpm_step`).
    guidance_scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor

    Notes
    -----
    The guidance gradient is taken at x_{t-1} = mu (the slide's step 3), not at x_t; no shift at position 0
    (beta_tilde = 0). Its output's shape is checked; non-finite values surface in the result's check.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling'; Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.
    Isachenko, DGM Lecture 14, 'Guided sampling' (with ``guidance``).

    Examples
    --------
    At position 0 no noise is added: x_0 = (x_1 - 0) / sqrt(0.9) for eps = 0, x_1 = 0.9:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> ddpm_step(
    ...     torch.tensor([[0.9]], dtype=torch.float64),
    ...     torch.tensor([[0.0]], dtype=torch.float64),
    ...     torch.tensor([0]),
    ...     S,
    ...     torch.tensor([[5.0]], dtype=torch.float64),
    ... ).item()
    0.9487
    """
    schedule = _check_schedule(schedule)
    x_t, eps_pred = _check_data("x_t", x_t), _check_data("eps_pred", eps_pred)
    _check_same(("x_t", "eps_pred"), (x_t, eps_pred), one_dtype=False)
    t = _check_positions(t, schedule, x_t, "x_t")
    clip = AD.clip_range(clip_x0)
    guidance, gamma = AD.guidance(guidance), A.real("guidance_scale", guidance_scale)
    z = _noise(noise, rng, x_t)
    _check_same(("x_t", "noise"), (x_t, z))
    if x_t.dtype in _HALF:  # step in float32 (1 / sqrt(alpha_bar) overflows float16), return in x_t's dtype
        f = torch.float32
        x_prev = _step(x_t.to(f), eps_pred.to(f), t, schedule, z.to(f), clip, guidance, gamma).to(x_t.dtype)
    else:
        x_prev = _step(x_t, eps_pred.to(x_t.dtype), t, schedule, z, clip, guidance, gamma)
    return _checked(x_prev, (("x_t", x_t), ("eps_pred", eps_pred), ("noise", z)))


def _check_sample_noise(noise: object, rng: object, shape: tuple[int, ...]) -> torch.Tensor | None:
    """The sampler's standard normals of ``shape`` (or None: drawn from ``rng``; exactly one of them)."""
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = C.as_float_tensor("noise", noise)
        C.check_shape("noise", noise, shape)
        C.check_finite("noise", noise)
    return noise


def _sampler_coefficients(schedule: Schedule, device: torch.device, dtype: torch.dtype, clip: bool) -> dict:
    """Per-step coefficients, formed in float64, cast once, moved to the device and split into 0-d views."""
    s = schedule
    if clip:
        table = {
            "neg_sqrt_one_minus_alpha_bar": -s.sqrt_one_minus_alpha_bars,
            "sqrt_alpha_bar": s.sqrt_alpha_bars,
            "coef_x0": s.posterior_mean_coef_x0,
            "coef_xt": s.posterior_mean_coef_xt,
        }
    else:
        table = {"neg_k": -s.betas / s.sqrt_one_minus_alpha_bars, "sqrt_alpha": torch.sqrt(s.alphas)}
    table["sigma"] = torch.sqrt(s.beta_tilde)
    table["beta_tilde"] = s.beta_tilde
    stacked = torch.stack(list(table.values())).to(device=device, dtype=dtype)
    return {name: list(row.unbind(0)) for name, row in zip(table, stacked)}


def ddpm_sample(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    shape: tuple[int, ...],
    schedule: Schedule,
    noise: torch.Tensor | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
    progress: bool = False,
    guidance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    guidance_scale: float = 1.0,
) -> torch.Tensor:
    r"""Ancestral DDPM sampling from x_T ~ N(0, I) down to x_0, with no host synchronisation per step.

    .. math::

        x_{t-1} = \mu_\theta(x_t, t) + \sqrt{\tilde\beta_t}\, z_t \quad (t = T, \dots, 1;\ z_1 = 0).

    ``eps_fn(x_t, t)`` gets the batch and an int64 tensor of shape (n,) on the sampling device (all entries
    the position) and must return a floating tensor of the batch's shape (checked on the first step's
    output). Its dtype may differ: under ``torch.autocast`` the network's output is cast to the sampling
    dtype, in which the state x stays (a bfloat16 network, a float32 chain). Noise layout as in
    :func:`reference.diffusion.ddpm_sample`: ``noise[0]`` is x_T, ``noise[k]`` the z of the k-th step
    (k = 1..T-1); shape ``(T, *shape)``. With ``rng`` the draws are made per step on the generator's device
    in ``torch.get_default_dtype()``.

    Everything is validated before the loop (``noise`` finite by one device assertion, the rest by
    metadata) and the final state once after it (see Notes). The per-step coefficients are formed in
    float64, cast to the sampling dtype and moved to the device once; the loop indexes Python lists of
    0-d device tensors with its step counter, so it makes no host read, and the last step's "no noise"
    is a branch on that counter, not on device values. Per step: ``eps_fn``, then two fused kernels for the mean
    (``addcmul`` and a division) and one for the noise (``addcmul``); two more with ``clip_x0``.

    Parameters
    ----------
    eps_fn : callable
    shape : tuple of int
        (n, ...).
    schedule : Schedule
        Any device: its coefficients are copied to the sampling device.
    noise : (T, n, ...) Tensor, optional
        Exactly one of ``noise`` and ``rng``; its dtype and device are the sampling dtype and device.
    rng : torch.Generator, optional
    clip_x0 : (float, float), optional
    progress : bool
        tqdm progress bar.
    guidance : callable, optional
        Classifier guidance (L14 'Guided sampling', algorithm 1): mu + gamma beta_tilde g with g = guidance(mu, t).
    guidance_scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor
        x_0.

    Notes
    -----
    ``noise`` is checked finite by one device assertion at entry, and a chain whose state turns
    non-finite (eps_fn returned NaN or inf, or the states overflowed) raises a ``ValueError`` saying
    that the chain diverged, with the reference's message: one device assertion after the loop, no
    host read (on CUDA a failure surfaces at the next synchronisation; skipped with value checks off,
    where the non-finite states are returned).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling'; Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.

    Examples
    --------
    T = 1 and eps = 0: x_0 = x_T / sqrt(alpha_1) = 0.9 / sqrt(0.9) (one noise-free step):

    >>> ddpm_sample(
    ...     lambda x, t: 0 * x,
    ...     (1, 1),
    ...     Schedule(torch.tensor([0.1], dtype=torch.float64)),
    ...     torch.full((1, 1, 1), 0.9, dtype=torch.float64),
    ... ).item()
    0.9487
    """
    eps_fn, shape, clip = AD.model(eps_fn), AD.sample_shape(shape), AD.clip_range(clip_x0)
    guidance, gamma = AD.guidance(guidance), A.real("guidance_scale", guidance_scale)
    schedule = _check_schedule(schedule)
    noise = _check_sample_noise(noise, rng, (schedule.T, *shape))
    T = schedule.T
    if noise is not None:
        device, dtype = noise.device, noise.dtype
        x = noise[0]
    else:
        device, dtype = rng.device, torch.get_default_dtype()
        x = torch.randn(shape, generator=rng, device=device, dtype=dtype)
    steps = AD.progress(range(T), progress, "DDPM sampling")
    # A float16 / bfloat16 chain keeps its state in that dtype and steps in float32: 1 / sqrt(alpha_bar_t)
    # overflows float16 late in a schedule (the clipped x0 estimate divides by it), float32 does not.
    work = torch.float32 if dtype in _HALF else dtype
    coef = _sampler_coefficients(schedule, device, work, clip is not None)
    positions = torch.arange(T, device=device).unsqueeze(1).expand(T, shape[0]).contiguous().unbind(0)
    sigma, beta_tilde = coef["sigma"], coef["beta_tilde"]
    if clip is None:
        neg_k, sqrt_alpha = coef["neg_k"], coef["sqrt_alpha"]
    else:
        neg_s, sqrt_ab, c0, c1 = (
            coef[k] for k in ("neg_sqrt_one_minus_alpha_bar", "sqrt_alpha_bar", "coef_x0", "coef_xt")
        )
        low, high = clip
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in steps:
            t = T - 1 - k
            eps = eps_fn(x, positions[t])
            if k == 0 and (not isinstance(eps, torch.Tensor) or eps.shape != x.shape or not eps.is_floating_point()):
                raise ValueError(f"eps_fn(x_t, t): expected a floating tensor of shape {shape}, got {C.describe(eps)}")
            eps = eps.to(work)  # autocast: the network's output in its precision, the step in the chain's
            xw = x if work == dtype else x.to(work)
            if clip is None:
                mean = torch.addcmul(xw, eps, neg_k[t]).div_(sqrt_alpha[t])
            else:
                x0_hat = torch.addcmul(xw, eps, neg_s[t]).div_(sqrt_ab[t]).clamp_(low, high)
                mean = torch.addcmul(x0_hat.mul_(c0[t]), xw, c1[t])
            if guidance is not None:  # L14 'Guided sampling' step 4: mu + gamma beta_tilde g, g at mu
                g = guidance(mean, positions[t])
                if k == 0:
                    _guidance_output(g, mean)
                mean = torch.addcmul(mean, g.to(work), beta_tilde[t] * gamma)
            if t == 0:
                x = mean
            else:
                z = noise[k + 1] if noise is not None else torch.randn(shape, generator=rng, device=device, dtype=dtype)
                x = torch.addcmul(mean, z, sigma[t])
            if work != dtype:
                x = x.to(dtype)
    if C.value_checks_active():
        C.require(C.finite_flag(x), AD.DIVERGED)
    return x


class GaussianEps:
    r"""Exact eps*(x_t, t) = E[eps | x_t] for Gaussian data N(m, Sigma) (as :class:`reference.diffusion.GaussianEps`).

    .. math::

        \epsilon^*(x_t, t) = \sqrt{1 - \bar\alpha_t}\, \bigl(\bar\alpha_t \Sigma + (1 - \bar\alpha_t) I\bigr)^{-1}
        (x_t - \sqrt{\bar\alpha_t} m).

    Evaluated in float64 through the eigendecomposition of Sigma and cast to x_t's dtype (``cov`` is
    also checked positive definite in float64, so float16 / bfloat16 parameters are accepted as on the
    reference). A test model for small d: it multiplies by Q with broadcast sums rather than BLAS
    (n x d x d temporaries).

    Parameters
    ----------
    mean : (d,) Tensor
    cov : (d, d) Tensor
        Symmetric positive definite; same dtype and device as ``mean``.
    schedule : Schedule
        On the device of ``mean``.

    Notes
    -----
    Like the models of :mod:`accelerated.models`, a call checks that x_t is finite (a NaN or inf is
    refused with a ``ValueError`` naming ``x_t``, as on the reference) by one device assertion, no host
    read; the check is skipped where value checks are off: inside the sampling loops (which check their
    state once after the loop), under ``torch.compile`` and inside ``torch.func`` transforms.

    References
    ----------
    Isachenko, DGM Lecture 14, recap 'DDPM objective'; Ho, Jain, Abbeel, NeurIPS 2020, Section 3.2.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): for N(0, I) data eps* = sqrt(1 - alpha_bar) x_t, 0.8
    x_t at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> GaussianEps(torch.zeros(1, dtype=torch.float64), torch.eye(1, dtype=torch.float64), S)(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([2])
    ... ).item()
    0.8
    """

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor, schedule: Schedule) -> None:
        mean, cov = C.as_float_tensor("mean", mean), C.as_float_tensor("cov", cov)
        C.check_same_device_dtype(("mean", "cov"), (mean, cov))
        if mean.ndim != 1:
            raise ValueError(f"mean: expected a vector of shape (d,), got shape {tuple(mean.shape)}")
        if mean.shape[0] == 0:  # d = 0 would otherwise be refused as a cov of the wrong shape
            raise ValueError("mean: expected at least one dimension, got shape (0,)")
        C.check_shape("cov", cov, (mean.shape[0], mean.shape[0]))
        C.check_finite("mean", mean)
        C.cholesky_spd("cov", cov.detach().to(_F64))  # the model runs in float64 (no half Cholesky)
        self.schedule = _check_schedule(schedule)
        _check_device("mean", mean, self.schedule)
        self.mean = mean.detach().to(_F64)
        self.cov = cov.detach().to(_F64)
        self.eigenvalues, self.eigenvectors = torch.linalg.eigh(self.cov)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x_t = C.as_float_tensor("x_t", x_t)
        if x_t.ndim != 2 or x_t.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x_t: expected shape (n, {self.mean.shape[0]}), got shape {tuple(x_t.shape)}")
        t = _check_positions(t, self.schedule, x_t, "x_t")
        C.check_finite("x_t", x_t)
        s = self.schedule
        alpha_bar = s.alpha_bars[t].reshape(tuple(t.shape) + (1,) * (2 - t.ndim))
        one_minus_alpha_bar = s.one_minus_alpha_bars[t].reshape(alpha_bar.shape)
        Q = self.eigenvectors
        # (x - sqrt(alpha_bar) m) Q, scaled, times Q^T, as broadcast sums: no BLAS call (whose threads
        # dominate at the small d of a test model), (n, d, d) temporaries.
        y = ((x_t.to(_F64) - torch.sqrt(alpha_bar) * self.mean).unsqueeze(-1) * Q).sum(dim=-2)
        y = y * (torch.sqrt(one_minus_alpha_bar) / (alpha_bar * self.eigenvalues + one_minus_alpha_bar))
        return (y.unsqueeze(-2) * Q).sum(dim=-1).to(x_t.dtype)
