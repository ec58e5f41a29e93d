r"""DDIM: respaced time steps, one DDIM step with the stochasticity eta, and the DDIM sampler.

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, randomness). Beyond the slides: Song, Meng, Ermon, Denoising Diffusion
Implicit Models, ICLR 2021, eqs. (12) and (16); the respacing of Nichol & Dhariwal, Improved Denoising
Diffusion Probabilistic Models, ICML 2021, Section 4.

Conventions of this module (the same on the accelerated side):

* **Respacing.** :func:`respaced_timesteps` returns S positions tau_0 < ... < tau_{S-1} of 0..T-1,
  tau_i = round(i (T - 1) / (S - 1)) with ties rounded up (computed exactly in integers), so tau_0 = 0
  and tau_{S-1} = T - 1 (Nichol & Dhariwal's "evenly spaced real numbers between 1 and T, rounded").
  ``n_steps = T`` gives every position, ``n_steps = 1`` the single position T - 1 (one jump from x_T to
  the x_0 prediction).
* **Before the first step: t_prev = -1.** The step to x_0 has ``t_prev = -1``, where alpha_bar = 1 (the
  table value before the first step, ``alpha_bars_prev[0]``); its sigma is 0 whatever eta, so it adds no
  noise. A step needs -1 <= t_prev < t elementwise.
* **eta in [0, 1].** eta = 0 is the deterministic DDIM, eta = 1 the DDPM posterior variance (with every
  position it is ancestral DDPM sampling). eta > 1 is refused: the direction coefficient
  sqrt(1 - alpha_bar_prev - sigma^2) is real for every schedule and every respacing exactly when
  eta <= 1 (1 - alpha_bar_prev - sigma^2 = (1 - alpha_bar_prev) (1 - eta^2 + eta^2 q) with q in [0, 1],
  below).
* **eta = 0 needs no noise.** With eta = 0 the step makes no draw: ``noise`` and ``rng`` are optional
  (at most one; a given ``noise`` is checked for shape and finiteness and then unused, a given ``rng``
  is not drawn from). The sampler still needs x_T: ``noise`` of shape (S, n, ...) (only ``noise[0]``
  is used) or (1, n, ...), or ``rng`` (which then draws x_T only).
* **clip_x0.** With ``clip_x0=(low, high)`` the x_0 prediction is clipped and the eps in the direction
  term is re-derived from it, eps_hat = (x_t - sqrt(alpha_bar_t) x0_hat) / sqrt(1 - alpha_bar_t) (as in
  the code of Nichol & Dhariwal), so that (x0_hat, eps_hat) still reproduce x_t; with eta = 1 on every
  position the step then equals :func:`~reference.diffusion.ddpm_step` with the same clipping.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from ._inputs import _check_data, _check_pair, _check_previous, _check_schedule, _noise
from .schedules import Schedule

__all__ = ["ddim_sample", "ddim_step", "respaced_timesteps"]


def respaced_timesteps(T: int, n_steps: int) -> np.ndarray:
    r"""The S = ``n_steps`` positions of 0..T-1 that a respaced sampler visits, evenly spaced, both ends included.

    .. math::

        \tau_i = \Bigl\lfloor \frac{i (T - 1)}{S - 1} + \frac12 \Bigr\rfloor
               = \Bigl\lfloor \frac{2 i (T - 1) + S - 1}{2 (S - 1)} \Bigr\rfloor, \qquad i = 0, \dots, S - 1,

    round(linspace(0, T - 1, S)) with ties rounded up, evaluated exactly in integers; strictly
    increasing because the spacing (T - 1) / (S - 1) is at least 1. ``n_steps = T`` gives 0..T-1,
    ``n_steps = 1`` gives [T - 1].

    Parameters
    ----------
    T : int
        Number of diffusion steps, >= 1 (Python or NumPy int; not a bool).
    n_steps : int
        Number of sampling steps S, 1 <= S <= T.

    Returns
    -------
    (S,) int64 ndarray
        tau_0 = 0 < ... < tau_{S-1} = T - 1 (just T - 1 when S = 1).

    References
    ----------
    Nichol, Dhariwal, Improved Denoising Diffusion Probabilistic Models, ICML 2021, Section 4 (respacing);
    Song, Meng, Ermon, Denoising Diffusion Implicit Models, ICLR 2021, Section 4.2. Beyond the slides.

    Examples
    --------
    round(i (T - 1) / (S - 1)) with ties up: 5 / 2 = 2.5 rounds to 3:

    >>> respaced_timesteps(6, 3).tolist()
    [0, 3, 5]
    """
    T = A.count("T", T)
    S = AD.steps_count(n_steps, T)
    if S == 1:
        return np.array([T - 1], dtype=np.int64)
    i = np.arange(S, dtype=np.int64)
    return (2 * i * (T - 1) + (S - 1)) // (2 * (S - 1))


def _tables(schedule: Schedule, t: np.ndarray, t_prev: np.ndarray):
    """alpha_bar and 1 - alpha_bar at t and at t_prev (1 and 0 at t_prev = -1), float64."""
    first = t_prev < 0
    i = np.where(first, 0, t_prev)
    a_t, m_t = schedule.alpha_bars[t], schedule.one_minus_alpha_bars[t]
    a_p = np.where(first, 1.0, schedule.alpha_bars[i])
    m_p = np.where(first, 0.0, schedule.one_minus_alpha_bars[i])
    return a_t, m_t, a_p, m_p


def _sigma_and_direction(a_t, m_t, a_p, m_p, eta: float):
    r"""sigma (Song et al. eq. 16) and the direction coefficient sqrt(1 - alpha_bar_prev - sigma^2).

    1 - alpha_bar_prev - sigma^2 = (1 - alpha_bar_prev) (1 - eta^2 + eta^2 q), q = alpha_bar_t (1 -
    alpha_bar_prev) / (alpha_bar_prev (1 - alpha_bar_t)) in [0, 1]: a sum of non-negative terms, so it
    never rounds below 0 (the literal difference can, where sigma^2 is nearly 1 - alpha_bar_prev).
    """
    sigma = eta * np.sqrt(m_p / m_t) * np.sqrt(1.0 - a_t / a_p)
    q = a_t * m_p / (a_p * m_t)
    direction = np.sqrt(m_p * ((1.0 - eta**2) + eta**2 * q))
    return sigma, direction


def _reshape(c: np.ndarray, ndim: int) -> np.ndarray:
    return c.reshape(c.shape + (1,) * max(ndim - c.ndim, 0))


def _step(x_t, eps, t, t_prev, schedule, z, eta, clip) -> np.ndarray:
    a_t, m_t, a_p, m_p = (_reshape(np.asarray(c), x_t.ndim) for c in _tables(schedule, t, t_prev))
    sigma, direction = _sigma_and_direction(a_t, m_t, a_p, m_p, eta)
    x0_hat = (x_t - np.sqrt(m_t) * eps) / np.sqrt(a_t)
    if clip is not None:
        x0_hat = np.clip(x0_hat, clip[0], clip[1])
        eps = (x_t - np.sqrt(a_t) * x0_hat) / np.sqrt(m_t)
    x_prev = np.sqrt(a_p) * x0_hat + direction * eps
    return x_prev if z is None else x_prev + sigma * z


def _optional_noise(noise: object, rng: object, eta: float, like: np.ndarray) -> np.ndarray | None:
    """z for eta > 0 (exactly one of noise and rng); with eta = 0 at most one, checked, and no draw."""
    if eta > 0.0:
        return _noise(noise, rng, like)
    if noise is not None or rng is not None:
        C.check_noise_or_rng(noise, rng)
    if noise is not None:
        _noise(noise, None, like)
    return None


def ddim_step(
    x_t: np.ndarray,
    eps_pred: np.ndarray,
    t: np.ndarray,
    t_prev: np.ndarray,
    schedule: Schedule,
    noise: np.ndarray | None = None,
    *,
    rng=None,
    eta: float = 0.0,
    clip_x0: tuple[float, float] | None = None,
) -> np.ndarray:
    r"""One DDIM step x_t -> x_{t_prev} (Song et al. eq. 12) with sigma set by eta (eq. 16).

    .. math::

        \hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon_\theta}{\sqrt{\bar\alpha_t}}, \qquad
        \sigma = \eta \sqrt{\frac{1 - \bar\alpha_{\text{prev}}}{1 - \bar\alpha_t}}
                 \sqrt{1 - \frac{\bar\alpha_t}{\bar\alpha_{\text{prev}}}},

        x_{\text{prev}} = \sqrt{\bar\alpha_{\text{prev}}}\, \hat x_0
                        + \sqrt{1 - \bar\alpha_{\text{prev}} - \sigma^2}\, \epsilon_\theta + \sigma z,

    with alpha_bar_prev = 1 at ``t_prev = -1`` (the step to x_0, which adds no noise). See the module
    docstring for the conventions (t_prev = -1, eta in [0, 1], eta = 0 without noise, ``clip_x0`` with
    the re-derived eps).

    Parameters
    ----------
    x_t, eps_pred : (n, ...) array_like
        Current sample and the model's noise prediction at it, one shape.
    t : () or (n,) int array_like
        Positions of x_t, 0..T-1.
    t_prev : () or (n,) int array_like
        Positions to step to, -1 <= t_prev < t elementwise (-1: to x_0).
    schedule : Schedule
    noise : (n, ...) array_like, optional
        z. With eta > 0 exactly one of ``noise`` and ``rng``; with eta = 0 optional and unused.
    rng : numpy.random.Generator, optional
    eta : float
        Stochasticity in [0, 1]: 0 deterministic (DDIM), 1 the DDPM posterior variance.
    clip_x0 : (float, float), optional
        Range for the x_0 prediction, ``low < high``.

    Returns
    -------
    (n, ...) ndarray
        x_{t_prev}.

    Notes
    -----
    The square root of the direction term is evaluated as sqrt((1 - alpha_bar_prev)(1 - eta^2 + eta^2 q)),
    q = alpha_bar_t (1 - alpha_bar_prev) / (alpha_bar_prev (1 - alpha_bar_t)): the same number as
    sqrt(1 - alpha_bar_prev - sigma^2), without its cancellation.

    References
    ----------
    Song, Meng, Ermon, Denoising Diffusion Implicit Models, ICLR 2021, eqs. (12) and (16); with eta = 1
    and t_prev = t - 1 it is the DDPM step of :func:`~reference.diffusion.ddpm_step`. Beyond the slides.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): with eta = 0 the step to t_prev = -1 is x0_hat = (1 -
    0.8 * 0.5) / 0.6:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> ddim_step(np.array([[1.0]]), np.array([[0.5]]), np.array([2]), np.array([-1]), S).item()
    1.0
    """
    x_t, eps_pred, t, schedule = _check_pair(("x_t", "eps_pred"), x_t, eps_pred, t, schedule)
    t_prev = _check_previous(t_prev, t, schedule, x_t)
    eta, clip = AD.eta(eta), AD.clip_range(clip_x0)
    z = _optional_noise(noise, rng, eta, x_t)
    return _step(x_t, eps_pred, t, t_prev, schedule, z, eta, clip)


def _check_sample_noise(noise: object, rng: object, eta: float, S: int, shape: tuple[int, ...]) -> np.ndarray | None:
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        return None
    noise = _check_data("noise", noise)
    AD.ddim_noise_shape(noise.shape, S, shape, eta)
    return noise


def ddim_sample(
    eps_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    shape: tuple[int, ...],
    schedule: Schedule,
    noise: np.ndarray | None = None,
    *,
    rng=None,
    n_steps: int | None = None,
    eta: float = 0.0,
    clip_x0: tuple[float, float] | None = None,
    progress: bool = False,
) -> np.ndarray:
    r"""DDIM sampling over S respaced positions: x_T ~ N(0, I), then S steps of :func:`ddim_step` to x_0.

    .. math::

        x_{\tau_{S-1}} \sim \mathcal N(0, I), \qquad
        x_{\tau_{i-1}} = \text{ddim\_step}(x_{\tau_i}, \epsilon_\theta(x_{\tau_i}, \tau_i), \tau_i, \tau_{i-1})
        \quad (i = S - 1, \dots, 0;\ \tau_{-1} = -1),

    with tau = :func:`respaced_timesteps` (T, S). ``eps_fn(x, t)`` is called once per step with the batch
    and t an int64 array of shape (n,) holding the original schedule position tau_i (what the model was
    trained on), and must return an array of the batch's shape.

    Noise layout (as :func:`~reference.diffusion.ddpm_sample`): ``noise[0]`` is x_T and ``noise[k]``,
    k = 1..S-1, the z of the k-th step (the step from tau_{S-k}); the last step (to t_prev = -1) adds
    none, so ``noise`` has shape ``(S, *shape)``. With eta = 0 only x_T is used, and ``noise`` may also
    have shape ``(1, *shape)``. With ``eta = 1`` and ``n_steps = T`` this is ancestral DDPM sampling
    with the same draws.

    Parameters
    ----------
    eps_fn : callable
        The noise model eps_theta(x_t, t).
    shape : tuple of int
        Batch shape (n, ...).
    schedule : Schedule
    noise : (S, n, ...) or, with eta = 0, (1, n, ...) array_like, optional
        Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws x_T, then (eta > 0) one z per step in the order above.
    n_steps : int, optional
        S, 1..T; ``None`` (default) for every position (S = T).
    eta : float
        Stochasticity in [0, 1] (see :func:`ddim_step`).
    clip_x0 : (float, float), optional
        Clip the x_0 prediction at every step (see :func:`ddim_step`).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    (n, ...) ndarray
        x_0.

    Notes
    -----
    A chain whose state turns non-finite (eps_fn returned NaN or inf, or the states overflowed) raises
    a ``ValueError`` saying that the chain diverged; the state is checked after every step, so a
    non-finite state never reaches eps_fn (the accelerated side checks once, after the loop, with the
    same message).

    References
    ----------
    Song, Meng, Ermon, Denoising Diffusion Implicit Models, ICLR 2021, Section 4 and eq. (12); Nichol,
    Dhariwal, ICML 2021, Section 4 (the respacing). Beyond the slides.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): one step (n_steps = 1) with eps = 0 jumps to x_T /
    sqrt(0.36):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> ddim_sample(lambda x, t: 0 * x, (1, 1), S, np.full((1, 1, 1), 0.6), n_steps=1).item()
    1.0
    """
    eps_fn, shape, schedule = AD.model(eps_fn), AD.sample_shape(shape), _check_schedule(schedule)
    S = schedule.T if n_steps is None else AD.steps_count(n_steps, schedule.T)
    eta, clip = AD.eta(eta), AD.clip_range(clip_x0)
    noise = _check_sample_noise(noise, rng, eta, S, shape)
    tau = respaced_timesteps(schedule.T, S)
    x = noise[0] if noise is not None else rng.standard_normal(shape)
    for k in AD.progress(range(S), progress, "DDIM sampling"):
        t = np.full(shape[0], tau[S - 1 - k], dtype=np.int64)
        t_prev = np.full(shape[0], tau[S - 2 - k] if k < S - 1 else -1, dtype=np.int64)
        eps = C.as_float64("eps_fn(x_t, t)", eps_fn(x, t))
        if eps.shape != shape:
            raise ValueError(f"eps_fn(x_t, t): expected an output of shape {shape}, got shape {eps.shape}")
        z = None
        if eta > 0.0 and k < S - 1:
            z = noise[k + 1] if noise is not None else rng.standard_normal(shape)
        x = _step(x, eps, t, t_prev, schedule, z, eta, clip)
        if not np.all(np.isfinite(x)):
            raise ValueError(AD.DIVERGED)
    return x
