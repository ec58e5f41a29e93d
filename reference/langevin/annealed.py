"""Annealed Langevin dynamics (NCSN sampling): T Langevin steps per noise level, largest level first.

Slides: Isachenko, DGM Lecture 13, 'Noise Conditioned Score Network (NCSN)', 'Sampling (annealed
Langevin dynamics)'; Lecture 14, recap 'NCSN sampling (annealed Langevin dynamics)'; Beigy,
Score-Based Generative Models, the NCSN step-size rule eta_t = eta (sigma_t / sigma_T)^2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import _check_chain, _check_draws, _check_state, _score, _trajectory, _update
from .sampler import LangevinResult

__all__ = ["annealed_langevin_sample"]


def _check_sigmas(sigmas: object, x: np.ndarray) -> np.ndarray:
    """Noise levels sigma_1 > ... > sigma_L > 0 as a float64 (L,) array (x: the chains; NumPy has one device)."""
    if isinstance(sigmas, (list, tuple)):
        return np.asarray(AL.noise_levels("sigmas", sigmas), dtype=np.float64)
    sigmas = C.as_float64("sigmas", sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] == 0:
        raise ValueError(f"sigmas: expected a vector of L >= 1 noise levels, got shape {sigmas.shape}")
    C.check_finite("sigmas", sigmas)
    if np.any(sigmas <= 0):
        raise ValueError(f"sigmas: expected noise levels > 0, got min {np.min(sigmas)!r}")
    if np.any(np.diff(sigmas) >= 0):
        raise ValueError(f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L, got {sigmas}")
    return sigmas


def annealed_langevin_sample(
    score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x0: np.ndarray,
    sigmas: np.ndarray,
    *,
    step_size: float,
    n_steps_each: int,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    denoise: bool = False,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Annealed Langevin dynamics (NCSN sampling): T Langevin steps at each noise level, largest first.

    .. math::

        \alpha_i = \eta\, \frac{\sigma_i^2}{\sigma_L^2}, \qquad
        x_t = x_{t-1} + \frac{\alpha_i}{2}\, s(x_{t-1}, \sigma_i) + \sqrt{\alpha_i}\, \varepsilon_t,
        \quad t = 1, \dots, T, \quad i = 1, \dots, L,

    each level starting from the last state of the previous one. With ``denoise=True`` a final
    Tweedie step :math:`x \leftarrow x + \sigma_L^2\, s(x, \sigma_L)` (the posterior mean
    E[x_clean | x] for a score of the sigma_L-noised law) removes the noise of the last level.

    The slides draw x_0 ~ N(0, sigma_1 I) "≈ pi(x | sigma_L)": the variance is sigma_1^2 and the
    approximated law is the *most* noised one, pi(x | sigma_1) (typos); here x0 is an argument.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x, sigma) -> s(x, sigma)``, the noise-conditional score: x of the shape of x0 and
        sigma an array of shape (n,) holding the level sigma_i for every chain (the call
        :func:`reference.score_matching.ncsn_loss` makes in training, so a model that trains is a model
        that samples), returning an array of the shape of x. For a known law p, the score of p
        convolved with N(0, sigma^2 I) (e.g. ``lambda x, sigma: mixture.convolve(sigma[0]).score(x)``).
    x0 : (n, ...) array_like
        Initial states, finite (NCSN: x0 ~ N(0, sigma_1^2 I) or uniform noise).
    sigmas : (L,) array_like
        Noise levels, strictly decreasing, > 0.
    step_size : float
        eta > 0, the step size at the last level (alpha_L = eta).
    n_steps_each : int
        T >= 0 steps per level.
    noise : (L, T, n, ...) array_like, optional
        Standard normals, ``noise[i, t]`` for step t at level i. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``rng.standard_normal(x0.shape)`` once per step, level by level.
    denoise : bool
        Apply the final Tweedie step (no extra noise).
    record_steps : sequence of int
        Strictly increasing global step indices in [0, L T] (0 = x0, i T + t = after step t of level
        i + 1) whose states go into ``trajectory`` (before the denoising step).
    progress : bool
        Show a tqdm progress bar over all L T steps (it changes no result).

    Returns
    -------
    LangevinResult
        ``samples`` (n, ...) and ``trajectory`` (len(record_steps), n, ...).

    Notes
    -----
    A chain that diverges (a state overflows or turns NaN: the step size is too large for the target,
    or score_fn returned non-finite values) raises a ``ValueError`` saying so; the state is checked after
    every step, so a non-finite state never reaches score_fn (the accelerated side checks once, after the
    loop, with the same message).
    A ``ValueError`` that score_fn raises at a state (a model that refuses far points, e.g. a
    mixture's score at |x| = 1e300) is re-raised as the same divergence, the model's message appended.

    Noise levels whose largest step size eta (sigma_1 / sigma_L)^2 overflows float64 (e.g. sigmas =
    [1, 1e-300]) are refused at entry with a ``ValueError`` naming ``sigmas``.

    Slide typo (index of the level vs the step): Lecture 13, slide 'Sampling (annealed Langevin
    dynamics)', writes the inner step as x_t = x_{t-1} + (1/2) alpha_t s_theta(x_{t-1}, sigma_t) +
    sqrt(alpha_t) eps_t, so t indexes both the T steps within a level (x_t, eps_t, t = 1..T) and the
    noise level (sigma_t, alpha_t), and "choose the next sigma_t" then reads as if the level changed at
    every step. The correct form, written by the Lecture 14 recap 'NCSN sampling (annealed Langevin
    dynamics)' and implemented here, keeps the level l fixed for its T steps:
    x_t = x_{t-1} + (1/2) alpha_l s_theta(x_{t-1}, sigma_l) + sqrt(alpha_l) eps_t, t = 1..T, then the
    next level l + 1 (alpha_l = eta sigma_l^2 / sigma_L^2, Song and Ermon's Algorithm 1); only eps_t is
    drawn anew at every step. (The Beigy rule eta_t = eta (sigma_t / sigma_T)^2 likewise uses t and T
    for the level and the number of levels.)

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)', sampling by annealed
    Langevin dynamics; Lecture 14, recap slide 'NCSN sampling (annealed Langevin dynamics)';
    Beigy, Score-Based Generative Models, slide 'Denoising Score Matching (DSM)' (eta_t = eta (sigma_t /
    sigma_T)^2);
    Song and Ermon, Generative Modeling by Estimating Gradients of the Data Distribution, NeurIPS
    2019, Algorithm 1; the denoising step: Song and Ermon, Improved Techniques for Training
    Score-Based Generative Models, NeurIPS 2020, and the Tweedie slides of Lecture 8.

    Examples
    --------
    Levels 2 and 1, eta = 0.1: alpha = 0.4 then 0.1 (alpha_i = eta sigma_i^2 / sigma_L^2). On
    N(0, 1), s(x, sigma) = -x / (1 + sigma^2); without noise one step per level from 1 gives
    (1 - 0.2 / 5) (1 - 0.05 / 2) = 0.936:

    >>> out = annealed_langevin_sample(
    ...     lambda x, sigma: -x / (1 + sigma[:, None] ** 2), np.ones((1, 1)), [2.0, 1.0],
    ...     step_size=0.1, n_steps_each=1, noise=np.zeros((2, 1, 1, 1)))
    >>> round(float(out.samples[0, 0]), 12)
    0.936
    """
    x, eta = _check_chain(score_fn, x0, step_size, noise, rng)
    T, denoise = A.count("n_steps_each", n_steps_each, minimum=0), A.flag("denoise", denoise)
    sigma = _check_sigmas(sigmas, x)
    AL.annealed_step_sizes("sigmas", eta, float(sigma[0]), float(sigma[-1]))
    noise, record = _check_draws(noise, x, (len(sigma), T), record_steps)
    L = len(sigma)
    states = [x.copy()] if 0 in record else []
    with tqdm(total=L * T, disable=not A.flag("progress", progress), desc="annealed Langevin", unit="step") as bar:
        for i, sigma_i in enumerate(sigma):
            alpha_i = eta * (sigma_i / sigma[-1]) ** 2
            level = np.full(x.shape[:1], sigma_i)  # the model's sigma: one per chain, shape (n,)
            for t in range(T):
                eps = noise[i, t] if noise is not None else rng.standard_normal(x.shape)
                x = _update(x, _score(score_fn, x, level), eps, alpha_i)
                _check_state(x, "score_fn")
                if i * T + t + 1 in record:
                    states.append(x.copy())
                bar.update(1)
    trajectory = _trajectory(states, x)
    if denoise:
        x = x + sigma[-1] ** 2 * _score(score_fn, x, np.full(x.shape[:1], sigma[-1]))
        _check_state(x, "score_fn")
    return LangevinResult(x, trajectory)
