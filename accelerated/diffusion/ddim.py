r"""DDIM in PyTorch: respaced time steps, one DDIM step with eta, and a sync-free DDIM sampler.

Part of :mod:`accelerated.diffusion`; same formulas, names, parameters and conventions as
:mod:`reference.diffusion.ddim` (respacing tau_i = round(i (T - 1) / (S - 1)) with ties up, t_prev = -1
for the step to x_0, eta in [0, 1], eta = 0 without noise, ``clip_x0`` with the re-derived eps). Beyond
the slides: Song, Meng, Ermon, ICLR 2021, eqs. (12) and (16); Nichol & Dhariwal, ICML 2021, Section 4.

Precision. The coefficients are formed from the float64 schedule tables in float64 and cast once to the
data's dtype; a step is then x_prev = (x_t + w eps) / r (+ sigma z), with r = sqrt(alpha_bar_t /
alpha_bar_prev) and w = r sqrt(1 - alpha_bar_prev - sigma^2) - sqrt(1 - alpha_bar_t): the reference's
sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps regrouped, so that its two large eps
terms cancel in float64, not in the data's dtype, and no coefficient leaves the float16 range (|w| <= 1,
0 < r <= 1; in float16 an r below 6.1e-5, a jump across an alpha_bar ratio above 2.7e8 that no standard
schedule makes, is subnormal and keeps fewer digits). With ``clip_x0`` the step divides by
sqrt(alpha_bar_t) for x0_hat (an overflow there clamps to the bound, as it should).

Host synchronisation. :func:`ddim_step` checks its values (finite data, t in 0..T-1, -1 <= t_prev < t) as
one device assertion, no host read. :func:`ddim_sample` makes no host read at all: everything is
validated before the loop (``noise`` finite by one device assertion, the rest by metadata) and the final
state once after it, the per-step coefficients are formed
in float64, cast and moved to the device once and split into Python lists of 0-d tensors that the loop
indexes with its step counter, and this library's value checks are off inside the loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from ._inputs import _check_data, _check_positions, _check_previous, _check_same, _check_schedule
from .schedules import Schedule

__all__ = ["ddim_sample", "ddim_step", "respaced_timesteps"]


def respaced_timesteps(T: int, n_steps: int) -> torch.Tensor:
    r"""The S = ``n_steps`` evenly spaced positions of 0..T-1, both ends included (see the reference).

    .. math::

        \tau_i = \Bigl\lfloor \frac{2 i (T - 1) + S - 1}{2 (S - 1)} \Bigr\rfloor
               = \operatorname{round}\Bigl(\frac{i (T - 1)}{S - 1}\Bigr) \ \text{(ties up)}, \qquad i = 0, \dots, S - 1.

    Parameters
    ----------
    T : int
        Number of diffusion steps, >= 1 (Python or NumPy int; not a bool).
    n_steps : int
        S, 1 <= S <= T.

    Returns
    -------
    (S,) int64 Tensor
        On the CPU; strictly increasing from 0 to T - 1 ([T - 1] when S = 1).

    References
    ----------
    Nichol, Dhariwal, ICML 2021, Section 4; Song, Meng, Ermon, ICLR 2021, Section 4.2 (beyond the slides).

    Examples
    --------
    round(i (T - 1) / (S - 1)) with ties up: 5 / 2 = 2.5 rounds to 3:

    >>> respaced_timesteps(6, 3).tolist()
    [0, 3, 5]
    """
    T = A.count("T", T)
    return torch.tensor(_respaced(T, AD.steps_count(n_steps, T)), dtype=torch.int64)


def _respaced(T: int, S: int) -> list[int]:
    """The positions as Python ints (exact integer arithmetic; the sampler builds its tables from them)."""
    if S == 1:
        return [T - 1]
    return [(2 * i * (T - 1) + (S - 1)) // (2 * (S - 1)) for i in range(S)]


def _check_step_values(t, t_prev, T: int, data: tuple[tuple[str, torch.Tensor], ...]) -> None:
    """Finite data, 0 <= t < T and -1 <= t_prev < t, as one device assertion (failure path words the message)."""
    if not C.value_checks_active():
        return
    ok = ((t_prev >= -1) & (t_prev < t)).all() & (t >= 0).all() & (t < T).all()
    for _, x in data:
        if x.numel():
            ok = ok & C.finite_flag(x)

    def detail() -> str:
        for name, x in data[:2]:
            if x.numel() and C.count_non_finite(x):
                return f"{name}: expected finite values, got {C.count_non_finite(x)} NaN or infinite entries"
        if t.numel() and not bool(((t >= 0) & (t < T)).all()):
            return AD.positions_message(int(t.min()), int(t.max()), T)
        if not bool(((t_prev >= -1) & (t_prev < t)).all()):
            p, q = torch.broadcast_tensors(t_prev, t)
            bad = ((p < -1) | (p >= q)).reshape(-1)
            i = int(torch.nonzero(bad)[0, 0])
            return AD.t_prev_message(int(bad.sum()), int(p.reshape(-1)[i]), int(q.reshape(-1)[i]), T)
        for name, x in data[2:]:
            if x.numel() and C.count_non_finite(x):
                return f"{name}: expected finite values, got {C.count_non_finite(x)} NaN or infinite entries"
        return "x_t, eps_pred, t, t_prev: expected valid inputs"  # pragma: no cover - one of the above failed

    C.require(ok, "x_t, eps_pred, t, t_prev, noise: expected finite values, 0 <= t < T and -1 <= t_prev < t", detail)


def _tables(schedule: Schedule, t: torch.Tensor, t_prev: torch.Tensor):
    """alpha_bar and 1 - alpha_bar at t and at t_prev (1 and 0 at t_prev = -1), float64, gathered with index_select."""
    s = schedule
    t1, p1 = t.reshape(-1), t_prev.reshape(-1)
    first = p1 < 0
    i = p1.clamp(min=0)
    a_t = s.alpha_bars.index_select(0, t1).reshape(t.shape)
    m_t = s.one_minus_alpha_bars.index_select(0, t1).reshape(t.shape)
    a_p = torch.where(first, 1.0, s.alpha_bars.index_select(0, i)).reshape(t_prev.shape)
    m_p = torch.where(first, 0.0, s.one_minus_alpha_bars.index_select(0, i)).reshape(t_prev.shape)
    return a_t, m_t, a_p, m_p


def _coefficients(a_t, m_t, a_p, m_p, eta: float, clip: bool) -> dict[str, torch.Tensor]:
    """The step's coefficients in float64 (see the reference's ``_sigma_and_direction`` for the direction form).

    Without clipping x_prev = (x_t + w eps) / r with r = sqrt(alpha_bar_t / alpha_bar_prev) and w = r
    sqrt(1 - alpha_bar_prev - sigma^2) - sqrt(1 - alpha_bar_t): the reference's sqrt(alpha_bar_prev) x0_hat +
    sqrt(1 - alpha_bar_prev - sigma^2) eps regrouped so that its two large eps terms cancel in float64, not
    in the data's dtype, and so that no coefficient leaves the range of float16 (|w| <= 1; r in (0, 1]: a
    division, as in ddpm_sample, where 1 / r could overflow for a long jump).
    """
    sigma = eta * torch.sqrt(m_p / m_t) * torch.sqrt(1.0 - a_t / a_p)
    direction = torch.sqrt(m_p * ((1.0 - eta**2) + eta**2 * (a_t * m_p / (a_p * m_t))))
    sqrt_a_t, sqrt_m_t = torch.sqrt(a_t), torch.sqrt(m_t)
    if clip:
        # x_prev = sqrt(a_p) x0_hat + direction (x_t - sqrt(a_t) x0_hat) / sqrt(m_t) + sigma z
        coef = {
            "neg_sqrt_m_t": -sqrt_m_t,
            "sqrt_a_t": sqrt_a_t,
            "c_x0": torch.sqrt(a_p) - direction * sqrt_a_t / sqrt_m_t,
            "c_xt": direction / sqrt_m_t,
        }
    else:
        r = torch.sqrt(a_t / a_p)
        coef = {"w": direction * r - sqrt_m_t, "r": r}
    coef["sigma"] = sigma
    return coef


def _apply(x, eps, coef: dict, z, clip) -> torch.Tensor:
    """One step in x's dtype from coefficients already cast and shaped: an addcmul and a division (a clamp and
    two more with clip_x0), and an addcmul for the noise."""
    if clip is None:
        x_prev = torch.addcmul(x, eps, coef["w"]).div_(coef["r"])
    else:
        x0_hat = torch.addcmul(x, eps, coef["neg_sqrt_m_t"]).div_(coef["sqrt_a_t"]).clamp_(clip[0], clip[1])
        x_prev = (x * coef["c_xt"]).addcmul_(x0_hat, coef["c_x0"])
    return x_prev if z is None else x_prev.addcmul_(z, coef["sigma"])


def _check_step_noise(noise: object, rng: object, eta: float, like: torch.Tensor) -> torch.Tensor | None:
    """The given noise, checked (with eta = 0 optional and unused), or None; a given rng is checked, not drawn."""
    if noise is not None or rng is not None or eta > 0.0:
        C.check_noise_or_rng(noise, rng)
    if noise is None:
        if rng is not None:
            C.check_generator(rng, like.device)
        return None
    z = C.as_float_tensor("noise", noise)
    C.check_shape("noise", z, like.shape)
    C.check_same_device(("x_t", "noise"), (like, z))
    return z


def ddim_step(
    x_t: torch.Tensor,
    eps_pred: torch.Tensor,
    t: torch.Tensor,
    t_prev: torch.Tensor,
    schedule: Schedule,
    noise: torch.Tensor | None = None,
    *,
    rng=None,
    eta: float = 0.0,
    clip_x0: tuple[float, float] | None = None,
) -> torch.Tensor:
    r"""One DDIM step x_t -> x_{t_prev} with sigma set by eta (as :func:`reference.diffusion.ddim_step`).

    .. math::

        x_{\text{prev}} = \sqrt{\bar\alpha_{\text{prev}}}\, \hat x_0
                        + \sqrt{1 - \bar\alpha_{\text{prev}} - \sigma^2}\, \epsilon_\theta + \sigma z, \qquad
        \sigma = \eta \sqrt{\frac{1 - \bar\alpha_{\text{prev}}}{1 - \bar\alpha_t}}
                 \sqrt{1 - \frac{\bar\alpha_t}{\bar\alpha_{\text{prev}}}},

    alpha_bar_prev = 1 at ``t_prev = -1``. The result is in x_t's dtype: ``eps_pred`` and ``noise`` may
    come in another floating dtype (a model under autocast returns bfloat16 for float32 data) and are
    cast to it. For a whole chain use :func:`ddim_sample`, which skips the per-call checks.

    Parameters
    ----------
    x_t, eps_pred : (n, ...) Tensor
        One shape and device, on the schedule's device.
    t, t_prev : () or (n,) int Tensor
        0 <= t < T and -1 <= t_prev < t, on the schedule's device.
    schedule : Schedule
    noise : (n, ...) Tensor, optional
        z; with eta > 0 exactly one of ``noise`` and ``rng``, with eta = 0 optional and unused.
    rng : torch.Generator, optional
        On x_t's device.
    eta : float
        In [0, 1].
    clip_x0 : (float, float), optional

    Returns
    -------
    (n, ...) Tensor
        x_{t_prev}, x_t's dtype.

    References
    ----------
    Song, Meng, Ermon, ICLR 2021, eqs. (12) and (16) (beyond the slides).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): with eta = 0 the step to t_prev = -1 is x0_hat = (1 -
    0.8 * 0.5) / 0.6:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> ddim_step(
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([[0.5]], dtype=torch.float64),
    ...     torch.tensor([2]),
    ...     torch.tensor([-1]),
    ...     S,
    ... ).item()
    1.0
    """
    schedule = _check_schedule(schedule)
    x_t, eps_pred = _check_data("x_t", x_t), _check_data("eps_pred", eps_pred)
    _check_same(("x_t", "eps_pred"), (x_t, eps_pred), one_dtype=False)
    t = _check_positions(t, schedule, x_t, "x_t")
    t_prev = _check_previous(t_prev, t, schedule, x_t)
    eta, clip = AD.eta(eta), AD.clip_range(clip_x0)
    z = _check_step_noise(noise, rng, eta, x_t)
    data = (("x_t", x_t), ("eps_pred", eps_pred)) + ((("noise", z),) if z is not None else ())
    _check_step_values(t, t_prev, schedule.T, data)
    if eta > 0.0:
        if z is None:
            z = torch.randn(x_t.shape, generator=rng, device=x_t.device, dtype=x_t.dtype)
    else:
        z = None  # eta = 0: sigma = 0, no draw and no noise term
    shape = torch.broadcast_shapes(t.shape, t_prev.shape)
    coef = _coefficients(*_tables(schedule, t, t_prev), eta, clip is not None)
    view = tuple(shape) + (1,) * max(x_t.ndim - len(shape), 0)
    stacked = torch.stack([c.expand(shape) for c in coef.values()]).to(x_t.dtype)
    coef = {name: row.view(view) for name, row in zip(coef, stacked)}
    eps = eps_pred.to(x_t.dtype)
    return _apply(x_t, eps, coef, None if z is None else z.to(x_t.dtype), clip)


def _respaced_on(T: int, S: int, device: torch.device) -> torch.Tensor:
    """:func:`_respaced` computed on ``device`` by the same integer arithmetic (exact): no host-to-device
    copy, so the sampler can run under ``torch.cuda.set_sync_debug_mode("error")`` and graph capture."""
    if S == 1:
        return torch.full((1,), T - 1, dtype=torch.int64, device=device)
    i = torch.arange(S, dtype=torch.int64, device=device)
    return (2 * (T - 1) * i + (S - 1)) // (2 * (S - 1))


def _sampler_coefficients(schedule: Schedule, S: int, eta: float, clip: bool, device, dtype) -> dict:
    """Per-step coefficients (step k goes from tau[S-1-k]), float64, cast once, on the device, as lists of 0-d views."""
    t = _respaced_on(schedule.T, S, schedule.device).flip(0)
    t_prev = torch.cat([t[1:], t.new_full((1,), -1)])
    coef = _coefficients(*_tables(schedule, t, t_prev), eta, clip)
    stacked = torch.stack(list(coef.values())).to(device=device, dtype=dtype)
    return {name: list(row.unbind(0)) for name, row in zip(coef, stacked)}


def _loop(eps_fn, x, steps, positions, coef, noise, rng, eta, clip, shape, dtype, device) -> torch.Tensor:
    S = len(positions)
    stochastic = eta > 0.0
    for k in steps:
        eps = eps_fn(x, positions[k])
        if k == 0 and (not isinstance(eps, torch.Tensor) or eps.shape != x.shape or not eps.is_floating_point()):
            raise ValueError(f"eps_fn(x_t, t): expected a floating tensor of shape {shape}, got {C.describe(eps)}")
        step = {name: values[k] for name, values in coef.items()}
        z = None
        if stochastic and k < S - 1:
            z = noise[k + 1] if noise is not None else torch.randn(shape, generator=rng, device=device, dtype=dtype)
        x = _apply(x, eps.to(dtype), step, z, clip)
    return x


def ddim_sample(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    shape: tuple[int, ...],
    schedule: Schedule,
    noise: torch.Tensor | None = None,
    *,
    rng=None,
    n_steps: int | None = None,
    eta: float = 0.0,
    clip_x0: tuple[float, float] | None = None,
    progress: bool = False,
) -> torch.Tensor:
    r"""DDIM sampling over S respaced positions, with no host read (as :func:`reference.diffusion.ddim_sample`).

    .. math::

        x_{\tau_{i-1}} = \sqrt{\bar\alpha_{\tau_{i-1}}}\, \hat x_0
        + \sqrt{1 - \bar\alpha_{\tau_{i-1}} - \sigma_i^2}\, \epsilon_\theta(x_{\tau_i}, \tau_i) + \sigma_i z_i
        \quad (i = S - 1, \dots, 0;\ \tau_{-1} = -1,\ \bar\alpha_{-1} = 1).

    ``eps_fn(x, t)`` gets the batch and t, an int64 tensor of shape (n,) on the sampling device holding
    the original schedule position tau_i; its output (checked by metadata on the first step) is cast to
    x's dtype, so a model under ``torch.autocast`` may return bfloat16 while the state stays float32.
    Noise layout: ``noise[0]`` is x_T, ``noise[k]`` the z of the k-th step (k = 1..S-1), shape
    ``(S, *shape)``; with eta = 0 only x_T is used and ``(1, *shape)`` is accepted too. The sampling dtype
    and device are those of ``noise`` (with ``rng``: the generator's device and
    ``torch.get_default_dtype()``, x_T and the z drawn per step). ``noise`` is checked finite on the device.

    Per step: ``eps_fn``, then one fused ``addcmul`` and a division (as :func:`ddpm_sample`), and another
    ``addcmul`` for the noise when eta > 0; with ``clip_x0`` an ``addcmul``, a division and a clamp for
    x0_hat, then a multiplication and an ``addcmul``. The
    coefficients are formed in float64 and cast to the sampling dtype once, before the loop; the loop
    indexes Python lists of 0-d device tensors with its counter and branches on that counter only, and
    this library's value checks are off inside it (while ``torch.compile`` traces they are skipped
    anyway), so with ``noise=`` it has no graph break.

    Parameters
    ----------
    eps_fn : callable
    shape : tuple of int
        (n, ...).
    schedule : Schedule
        Any device: its coefficients are copied to the sampling device.
    noise : (S, n, ...) or, with eta = 0, (1, n, ...) Tensor, optional
        Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
    n_steps : int, optional
        S, 1..T (default T).
    eta : float
        In [0, 1].
    clip_x0 : (float, float), optional
    progress : bool
        tqdm progress bar (none is built otherwise).

    Returns
    -------
    (n, ...) Tensor
        x_0, in the sampling dtype.

    Notes
    -----
    ``noise`` is checked finite by one device assertion at entry, and a chain whose state turns
    non-finite (eps_fn returned NaN or inf, or the states overflowed) raises a ``ValueError`` saying
    that the chain diverged, with the reference's message: one device assertion after the loop, no
    host read (on CUDA a failure surfaces at the next synchronisation; skipped with value checks off,
    where the non-finite states are returned).

    References
    ----------
    Song, Meng, Ermon, ICLR 2021, Section 4 and eq. (12); Nichol, Dhariwal, ICML 2021, Section 4 (beyond
    the slides).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): one step (n_steps = 1) with eps = 0 jumps to x_T /
    sqrt(0.36):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> ddim_sample(lambda x, t: 0 * x, (1, 1), S, torch.full((1, 1, 1), 0.6, dtype=torch.float64), n_steps=1).item()
    1.0
    """
    eps_fn, shape, schedule = AD.model(eps_fn), AD.sample_shape(shape), _check_schedule(schedule)
    S = schedule.T if n_steps is None else AD.steps_count(n_steps, schedule.T)
    eta, clip = AD.eta(eta), AD.clip_range(clip_x0)
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = C.as_float_tensor("noise", noise)
        AD.ddim_noise_shape(noise.shape, S, shape, eta)
        C.check_finite("noise", noise)
        device, dtype = noise.device, noise.dtype
        x = noise[0]
    else:
        device, dtype = rng.device, torch.get_default_dtype()
        x = torch.randn(shape, generator=rng, device=device, dtype=dtype)
    steps = AD.progress(range(S), progress, "DDIM sampling")
    coef = _sampler_coefficients(schedule, S, eta, clip is not None, device, dtype)
    tau = _respaced_on(schedule.T, S, device).flip(0)
    positions = tau.unsqueeze(1).expand(S, shape[0]).contiguous().unbind(0)
    args = (eps_fn, x, steps, positions, coef, noise, rng, eta, clip, shape, dtype, device)
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        x = _loop(*args)
    if C.value_checks_active():
        C.require(C.finite_flag(x), AD.DIVERGED)
    return x
