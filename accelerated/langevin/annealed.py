"""Annealed Langevin dynamics (NCSN sampling) in PyTorch: T steps per noise level, no host reads in the loop.

Same formulas as :mod:`reference.langevin.annealed` (Isachenko, DGM Lecture 13, 'Sampling (annealed
Langevin dynamics)'; Lecture 14, 'NCSN sampling (annealed Langevin dynamics)'; Beigy, the NCSN
step-size rule eta_t = eta (sigma_t / sigma_T)^2).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import _check_chain, _check_draws, _check_state, _Recorder, _score, _standard_normals, _steps
from ._update import _advance
from .sampler import LangevinResult

__all__ = ["annealed_langevin_sample"]

F64 = torch.float64


def _check_sigmas(sigmas: object, x: torch.Tensor, eta: float) -> torch.Tensor:
    """Noise levels sigma_1 > ... > sigma_L > 0 as a float64 (L,) tensor on x's device, without a host read.

    A list or tuple of numbers is checked on the host (it is there already) and copied to the device
    once; a tensor is checked by one device assertion and copied to x's device if it is elsewhere.
    """
    if isinstance(sigmas, torch.Tensor):
        if not sigmas.is_floating_point():
            raise TypeError(f"sigmas: expected floating-point noise levels, got {C.describe(sigmas)}")
        if sigmas.ndim != 1 or sigmas.shape[0] == 0:
            raise ValueError(f"sigmas: expected a vector of L >= 1 noise levels, got shape {tuple(sigmas.shape)}")
        table = sigmas.detach().to(device=x.device, dtype=F64)
        if C.value_checks_active():
            ok = (table.amin() > 0) & (table.amax() < math.inf)
            if table.shape[0] > 1:
                ok = ok & (table[1:] < table[:-1]).all()
            ok = ok & (eta * (table[0] / table[-1]) ** 2 < math.inf)  # the largest step size alpha_1

            def detail() -> str:
                values = table.tolist()
                if not all(math.isfinite(v) and v > 0 for v in values):
                    return f"sigmas: expected finite noise levels > 0, got {values}"
                if any(b >= a for a, b in itertools.pairwise(values)):
                    return f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L, got {values}"
                return AL.step_size_overflow("sigmas", eta, values[0], values[-1])

            C.require(ok, "sigmas: expected finite, positive, strictly decreasing noise levels (steps finite)", detail)
        return table
    levels = AL.noise_levels("sigmas", sigmas)
    AL.annealed_step_sizes("sigmas", eta, levels[0], levels[-1])
    return C.from_host("sigmas", list(levels), F64, x.device)


def annealed_langevin_sample(
    score_fn: Callable[[torch.Tensor, float], torch.Tensor],
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    step_size: float,
    n_steps_each: int,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    denoise: bool = False,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Annealed Langevin dynamics, NCSN (see :func:`reference.langevin.annealed_langevin_sample`).

    .. math::

        \alpha_i = \eta\, \frac{\sigma_i^2}{\sigma_L^2}, \qquad
        x_t = x_{t-1} + \frac{\alpha_i}{2}\, s(x_{t-1}, \sigma_i) + \sqrt{\alpha_i}\, \varepsilon_t,

    T steps at each level i = 1..L, then optionally :math:`x + \sigma_L^2 s(x, \sigma_L)` (Tweedie
    denoising). ``sigma`` reaches ``score_fn`` as an (n,) tensor of the level, in x's dtype on its
    device (the protocol of ``ncsn_loss``: a model that trains is a model that samples); no device
    value is read in the loop.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x, sigma) -> s(x, sigma)``; x of x0's shape, sigma an (n,) tensor of the level.
    x0 : (n, ...) Tensor
        Initial states, finite.
    sigmas : (L,) Tensor or sequence of float
        Strictly decreasing noise levels > 0 (a tensor is checked on the device, a sequence on the
        host and copied to the device without a blocking copy).
    step_size : float
        eta > 0, the step at the last level.
    n_steps_each : int
        T >= 0.
    noise : (L, T, n, d) Tensor, optional
        Standard normals; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn(x0.shape, ...)`` once per step, level by level.
    denoise : bool
        Apply the final Tweedie step.
    record_steps : sequence of int
        Strictly increasing global steps in [0, L T] (recorded before the denoising step).
    progress : bool
        Show a tqdm progress bar (it changes no result).

    Returns
    -------
    LangevinResult
        ``samples`` (n, ...) and ``trajectory`` (len(record_steps), n, ...).

    Notes
    -----
    A chain that diverges (a state overflows or turns NaN: the step size is too large for the target,
    or score_fn returned non-finite values) raises a ``ValueError`` saying so, with the reference's
    message: one device assertion after the loop, no host read (on CUDA it surfaces at the next
    synchronisation; skipped with value checks off, where the non-finite states are returned).
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
    Langevin dynamics; Lecture 14, recap slide 'NCSN sampling (annealed Langevin dynamics)'; Beigy,
    Score-Based Generative Models, slide 'Denoising Score Matching (DSM)' (eta_t = eta (sigma_t /
    sigma_T)^2); Song and Ermon, NeurIPS 2019, Algorithm 1; Song and Ermon, NeurIPS 2020 (denoising).

    Examples
    --------
    Levels 2 and 1, eta = 0.1: alpha = 0.4 then 0.1 (alpha_i = eta sigma_i^2 / sigma_L^2). On
    N(0, 1), s(x, sigma) = -x / (1 + sigma^2); without noise one step per level from 1 gives
    (1 - 0.2 / 5) (1 - 0.05 / 2) = 0.936:

    >>> out = annealed_langevin_sample(
    ...     lambda x, sigma: -x / (1 + sigma[:, None] ** 2), torch.ones(1, 1, dtype=torch.float64), [2.0, 1.0],
    ...     step_size=0.1, n_steps_each=1, noise=torch.zeros(2, 1, 1, 1, dtype=torch.float64))
    >>> round(float(out.samples[0, 0]), 12)
    0.936
    """
    x, eta = _check_chain(score_fn, x0, step_size, noise, rng)
    T, denoise = A.count("n_steps_each", n_steps_each, minimum=0), A.flag("denoise", denoise)
    sigma = _check_sigmas(sigmas, x, eta)
    noise, record = _check_draws(noise, x, (sigma.shape[0], T), record_steps)
    L, n = sigma.shape[0], x.shape[0]
    record = _Recorder(record, x)
    record(0, x)
    # Per level, on the device: alpha_i = eta (sigma_i / sigma_L)^2 in float64, then a = alpha_i / 2 and
    # b = sqrt(alpha_i) cast once to x's dtype; the model's sigma is an (n,) view of the level.
    alpha = eta * (sigma / sigma[-1]) ** 2
    a_i, b_i = (c.unbind(0) for c in torch.stack((alpha / 2.0, torch.sqrt(alpha))).to(x.dtype))
    levels = sigma.to(x.dtype).unsqueeze(1).expand(L, n).unbind(0)
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in _steps(L * T, progress, "annealed Langevin"):
            i, t = divmod(k, T)  # level i, step t within it
            eps = noise[i, t] if noise is not None else _standard_normals(rng, x)
            x = _advance(x, _score(score_fn, x, levels[i]), eps, a_i[i], b_i[i])
            record(k + 1, x)
    if denoise:
        x = torch.addcmul(x, _score(score_fn, x, levels[-1]), levels[-1][0] ** 2)
    _check_state(x, "score_fn")
    return LangevinResult(x, record.trajectory)
