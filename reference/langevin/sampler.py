"""Langevin dynamics samplers: the unadjusted step and chain, annealed Langevin (NCSN), MALA.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7, slides 'Langevin dynamic' (Theorem (informal):
  x_{I+1} = x_I + (eta/2) grad log p(x_I) + sqrt(eta) eps_I, and the sampling slide that writes the
  same update with the score s_theta).
* Isachenko, Deep Generative Models, Lecture 13, recap slide 'Langevin dynamics' (p is stationary for
  the Langevin SDE; the discrete chain only for small eta, see :func:`langevin_sample`) and slide
  'Noise Conditioned Score Network (NCSN)', 'Sampling (annealed Langevin dynamics)'.
* Isachenko, Deep Generative Models, Lecture 14, recap slide 'NCSN sampling (annealed Langevin
  dynamics)'.
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models, slide 'Langevin
  dynamics' (the same chain with a per-step size alpha_t).
* Beigy, Deep Generative Models: Score-Based Generative Models, slide 'Score-based generative models'
  (x^{k+1} = x^k + (eps^2/2) grad log p(x^k) + eps z^k: the same update with eta = eps^2), Example 3.3
  (Langevin on 0.6 N(2, 0.5^2) + 0.4 N(-2, 0.2^2) from Uniform[-3, 3] starts) and the NCSN step-size
  rule eta_t = eta (sigma_t / sigma_T)^2.

Two parametrisations of one step: the Isachenko slides write the step size as eta (the variance of
the injected noise), the Beigy slides as eps with eta = eps^2. Every function here takes
``step_size = eta``; pass ``step_size=eps**2`` to follow the Beigy slides.

Conventions: ``x0`` holds n chains as one batch along its first axis, shape ``(n, ...)``: a vector
``(n, d)`` or an image ``(n, C, H, W)`` per chain, norms over all the feature axes (the samplers never
mix chains). A noise-conditional ``score_fn(x, sigma)`` receives sigma as an array of shape ``(n,)``
(one level per chain), the call that :func:`reference.score_matching.ncsn_loss` makes in training.
Randomness is an argument: every sampler takes pre-drawn standard normals ``noise`` (and, for MALA,
``uniforms``) covering every draw it makes, or a ``numpy.random.Generator`` ``rng`` that draws the
same arrays step by step, never both. Samplers return a named tuple with the final states and the
states at the steps listed in ``record_steps`` (one return type whatever the arguments).

One-sided names: none.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from . import _checks as C

__all__ = [
    "LangevinResult",
    "MALAResult",
    "annealed_langevin_sample",
    "langevin_sample",
    "langevin_step",
    "mala_log_acceptance_ratio",
    "mala_sample",
]


class LangevinResult(NamedTuple):
    """Result of :func:`langevin_sample` and :func:`annealed_langevin_sample`."""

    samples: np.ndarray
    """(n, ...) the states after the last step (after the denoising step, where asked for)."""
    trajectory: np.ndarray
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""


class MALAResult(NamedTuple):
    """Result of :func:`mala_sample`."""

    samples: np.ndarray
    """(n, ...) the states after the last step."""
    trajectory: np.ndarray
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""
    acceptance_rate: np.ndarray
    """(n,) per chain, the fraction of the n_steps proposals accepted (NaN for n_steps = 0);
    ``acceptance_rate.mean()`` is the overall rate."""


# --------------------------------------------------------------------------- input checks


def _step_size(name: str, step_size: object) -> float:
    return C.check_positive_scalar(name, step_size)


def _count(name: str, n: object) -> int:
    """A number of steps: an int >= 0 (bool refused)."""
    if isinstance(n, bool):
        raise TypeError(f"{name}: expected an int >= 0, got {C.describe(n)}")
    try:
        value = operator.index(n)
    except TypeError as err:
        raise TypeError(f"{name}: expected an int >= 0, got {C.describe(n)}") from err
    if value < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {value}")
    return value


def _chains(x0: object) -> np.ndarray:
    """Initial states: a float64 copy of x0, shape (n, ...) with at least one entry per chain, finite."""
    x0 = C.as_float64("x0", x0)
    if x0.ndim < 1 or x0.size == 0:
        raise ValueError(f"x0: expected initial states of shape (n, ...), n >= 1, got shape {x0.shape}")
    C.check_finite("x0", x0)
    return x0.copy()  # the chains' own buffer: the caller's array is never aliased


def _callable(name: str, fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"{name}: expected a callable, got {C.describe(fn)}")


def _drawn(name: str, values: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Pre-drawn noise or uniforms: float64 of exactly ``shape``, finite."""
    values = C.as_float64(name, values)
    if values.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} ({what}), got shape {values.shape}")
    C.check_finite(name, values)
    return values


def _record_steps(record_steps: object, n_total: int) -> tuple[int, ...]:
    """Strictly increasing step indices in [0, n_total]."""
    if isinstance(record_steps, (str, bytes)) or not isinstance(record_steps, (Sequence, range)):
        raise TypeError(f"record_steps: expected a sequence of ints, got {C.describe(record_steps)}")
    steps = []
    for k in record_steps:
        if isinstance(k, bool):
            raise TypeError(f"record_steps: expected ints, got {C.describe(k)}")
        try:
            steps.append(operator.index(k))
        except TypeError as err:
            raise TypeError(f"record_steps: expected ints, got {C.describe(k)}") from err
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ValueError(f"record_steps: expected strictly increasing step indices, got {steps}")
    if steps and (steps[0] < 0 or steps[-1] > n_total):
        raise ValueError(f"record_steps: expected step indices in [0, {n_total}] (the number of steps), got {steps}")
    return tuple(steps)


def _score(score_fn: Callable, x: np.ndarray, *sigma: float) -> np.ndarray:
    """score_fn(x[, sigma]) as float64, checked to have the shape of x."""
    s = C.as_float64("score_fn(x)", score_fn(x, *sigma))
    if s.shape != x.shape:
        raise ValueError(f"score_fn: expected a score of the shape of x, {x.shape}, got shape {s.shape}")
    return s


def _log_prob(log_prob_fn: Callable, x: np.ndarray) -> np.ndarray:
    """log_prob_fn(x) as float64, checked to have the batch shape of x."""
    log_p = C.as_float64("log_prob_fn(x)", log_prob_fn(x))
    if log_p.shape != x.shape[:1]:
        raise ValueError(
            f"log_prob_fn: expected log-densities of shape {x.shape[:1]} (one per chain; x has shape "
            f"{x.shape}), got shape {log_p.shape}"
        )
    return log_p


def _trajectory(states: list[np.ndarray], x0: np.ndarray) -> np.ndarray:
    return np.stack(states) if states else np.empty((0, *x0.shape))


# --------------------------------------------------------------------------- the unadjusted step


def _update(x: np.ndarray, s: np.ndarray, z: np.ndarray, eta: float) -> np.ndarray:
    """x + (eta/2) s + sqrt(eta) z, without checks (the loops' inner step)."""
    return x + (eta / 2.0) * s + np.sqrt(eta) * z


def langevin_step(x: np.ndarray, score: np.ndarray, *, step_size: float, noise: np.ndarray) -> np.ndarray:
    r"""One unadjusted Langevin step from states x, given the score at x and standard normals.

    .. math::

        x' = x + \frac{\eta}{2}\, s(x) + \sqrt{\eta}\, \varepsilon,
        \qquad s(x) = \nabla_x \log p(x), \quad \varepsilon \sim \mathcal N(0, I).

    The Beigy slides write the same update as :math:`x + \frac{\epsilon^2}{2} s(x) + \epsilon z`:
    pass ``step_size=eps**2``.

    Parameters
    ----------
    x : (n, ...) array_like
        Current states (any shape; ``score`` and ``noise`` have the same), finite.
    score : (n, ...) array_like
        The score s(x) at those states (a gradient of log p; p may be unnormalised).
    step_size : float
        eta > 0.
    noise : (n, ...) array_like
        Standard normals eps.

    Returns
    -------
    (n, ...) ndarray
        The new states x' (a new array).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Lecture 13, recap slide 'Langevin dynamics';
    Beigy, Score-Based Generative Models, slide 'Score-based generative models';
    Roberts and Tweedie, Exponential convergence of Langevin distributions and their discrete
    approximations, Bernoulli 2(4), 1996 (the unadjusted Langevin algorithm, ULA).
    """
    eta = _step_size("step_size", step_size)
    x = C.as_float64("x", x)
    s = C.as_float64("score", score)
    z = C.as_float64("noise", noise)
    for name, a in (("score", s), ("noise", z)):
        if a.shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {x.shape}, got shape {a.shape}")
    C.check_finite("x", x)
    C.check_finite("noise", z)
    return _update(x, s, z, eta)


def langevin_sample(
    score_fn: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    *,
    step_size: float,
    n_steps: int,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Unadjusted Langevin chains (ULA): n_steps steps of :func:`langevin_step` from x0.

    .. math::

        x_{k+1} = x_k + \frac{\eta}{2}\, s(x_k) + \sqrt{\eta}\, \varepsilon_k,
        \qquad \varepsilon_k \sim \mathcal N(0, I), \quad k = 0, \dots, K - 1.

    The slides' theorem (p is stationary) holds for the Langevin SDE, i.e. as eta -> 0; at a fixed
    step the chain has a biased stationary law. For p = N(0, s^2) the chain is the AR(1)
    :math:`x' = (1 - \eta / 2s^2)\, x + \sqrt\eta\, \varepsilon`, whose stationary variance is
    :math:`s^2 / (1 - \eta / 4s^2)` (checked by the crosscheck theorems); :func:`mala_sample`
    removes the bias with a Metropolis-Hastings correction.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x) -> s(x)``: maps states of the shape of x0 to scores of that shape (e.g. the
        ``score`` method of :class:`reference.distributions.GaussianMixture`).
    x0 : (n, ...) array_like
        Initial states of n chains, finite.
    step_size : float
        eta > 0 (eta = eps^2 in the Beigy parametrisation).
    n_steps : int
        K >= 0 (K = 0 returns a copy of x0).
    noise : (n_steps, n, d) array_like, optional
        Standard normals eps_k. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws eps_k with ``rng.standard_normal(x0.shape)`` once per step, in step order.
    record_steps : sequence of int
        Strictly increasing steps in [0, n_steps] whose states go into ``trajectory`` (0 is x0).
    progress : bool
        Show a tqdm progress bar (it changes no result).

    Returns
    -------
    LangevinResult
        ``samples`` (n, ...) = x_K and ``trajectory`` (len(record_steps), n, ...).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Lecture 13, recap slide 'Langevin dynamics';
    Advanced Course on DGM, Lecture 8, slide 'Langevin dynamics'; Beigy, Score-Based Generative Models,
    slide 'Score-based generative models' and Example 3.3; Roberts and Tweedie, Bernoulli 2(4), 1996.
    """
    _callable("score_fn", score_fn)
    eta = _step_size("step_size", step_size)
    K = _count("n_steps", n_steps)
    x = _chains(x0)
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = _drawn("noise", noise, (K, *x.shape), "one standard normal per step and state: (n_steps, *x0.shape)")
    record = _record_steps(record_steps, K)
    states = [x.copy()] if 0 in record else []
    for k in tqdm(range(K), disable=not progress, desc="Langevin", unit="step"):
        eps = noise[k] if noise is not None else rng.standard_normal(x.shape)
        x = _update(x, _score(score_fn, x), eps, eta)
        if k + 1 in record:
            states.append(x.copy())
    return LangevinResult(x, _trajectory(states, x))


# --------------------------------------------------------------------------- annealed Langevin (NCSN)


def _sigmas(sigmas: object) -> list[float]:
    """Noise levels sigma_1 > ... > sigma_L > 0 as Python floats."""
    sigmas = C.as_float64("sigmas", sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] == 0:
        raise ValueError(f"sigmas: expected a vector of L >= 1 noise levels, got shape {sigmas.shape}")
    C.check_finite("sigmas", sigmas)
    if np.any(sigmas <= 0):
        raise ValueError(f"sigmas: expected noise levels > 0, got min {np.min(sigmas)!r}")
    if np.any(np.diff(sigmas) >= 0):
        raise ValueError(f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L, got {sigmas}")
    return [float(s) for s in sigmas]


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
    noise : (L, T, n, d) array_like, optional
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

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)', 'Sampling (annealed
    Langevin dynamics)'; Lecture 14, recap slide 'NCSN sampling (annealed Langevin dynamics)';
    Beigy, Score-Based Generative Models, the NCSN slide (eta_t = eta (sigma_t / sigma_T)^2);
    Song and Ermon, Generative Modeling by Estimating Gradients of the Data Distribution, NeurIPS
    2019, Algorithm 1; the denoising step: Song and Ermon, Improved Techniques for Training
    Score-Based Generative Models, NeurIPS 2020, and the Tweedie slides of Lecture 8.
    """
    _callable("score_fn", score_fn)
    eta = _step_size("step_size", step_size)
    T = _count("n_steps_each", n_steps_each)
    x = _chains(x0)
    sigma = _sigmas(sigmas)
    L = len(sigma)
    if not isinstance(denoise, bool):
        raise TypeError(f"denoise: expected a bool, got {C.describe(denoise)}")
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = _drawn("noise", noise, (L, T, *x.shape), "one standard normal per level, step and state")
    record = _record_steps(record_steps, L * T)
    states = [x.copy()] if 0 in record else []
    with tqdm(total=L * T, disable=not progress, desc="annealed Langevin", unit="step") as bar:
        for i, sigma_i in enumerate(sigma):
            alpha_i = eta * (sigma_i / sigma[-1]) ** 2
            level = np.full(x.shape[:1], sigma_i)  # the model's sigma: one per chain, shape (n,)
            for t in range(T):
                eps = noise[i, t] if noise is not None else rng.standard_normal(x.shape)
                x = _update(x, _score(score_fn, x, level), eps, alpha_i)
                if i * T + t + 1 in record:
                    states.append(x.copy())
                bar.update(1)
    trajectory = _trajectory(states, x)
    if denoise:
        x = x + sigma[-1] ** 2 * _score(score_fn, x, np.full(x.shape[:1], sigma[-1]))
    return LangevinResult(x, trajectory)


# --------------------------------------------------------------------------- MALA


def _log_q(x_to: np.ndarray, x_from: np.ndarray, score_from: np.ndarray, eta: float) -> np.ndarray:
    """log q(x_to | x_from) of the Langevin proposal N(x_from + (eta/2) s(x_from), eta I), up to a constant."""
    r = x_to - x_from - (eta / 2.0) * score_from
    return -np.sum((r * r).reshape(r.shape[0], -1), axis=1) / (2.0 * eta)


def _log_ratio(
    x: np.ndarray,
    x_prop: np.ndarray,
    log_p: np.ndarray,
    log_p_prop: np.ndarray,
    s: np.ndarray,
    s_prop: np.ndarray,
    eta: float,
) -> np.ndarray:
    """The MALA log ratio r without checks (the loop's inner step); inf - inf gives NaN (rejected)."""
    with np.errstate(invalid="ignore"):
        return log_p_prop - log_p + _log_q(x, x_prop, s_prop, eta) - _log_q(x_prop, x, s, eta)


def mala_log_acceptance_ratio(
    x: np.ndarray,
    x_proposal: np.ndarray,
    log_prob_x: np.ndarray,
    log_prob_proposal: np.ndarray,
    score_x: np.ndarray,
    score_proposal: np.ndarray,
    *,
    step_size: float,
) -> np.ndarray:
    r"""Log Metropolis-Hastings ratio of the Langevin proposal (MALA): accept x' with probability min(1, e^r).

    .. math::

        r = \log p(x') - \log p(x) + \log q(x \mid x') - \log q(x' \mid x), \qquad
        \log q(x' \mid x) = -\frac{\lVert x' - x - \frac{\eta}{2} s(x) \rVert^2}{2\eta} + \text{const}.

    The constants of q cancel, and so does the normalising constant of p: unnormalised log-densities
    are fine. r is not clipped at 0. NaN where log p is -inf at both points (never accepted: the
    test ``log u < r`` is false for NaN).

    Parameters
    ----------
    x, x_proposal : (n, ...) array_like
        Current states and proposals.
    log_prob_x, log_prob_proposal : (n,) array_like
        log p (up to a constant) at x and x'; -inf allowed.
    score_x, score_proposal : (n, ...) array_like
        The score at x and x'.
    step_size : float
        eta > 0, the step of the proposal x' = x + (eta/2) s(x) + sqrt(eta) eps.

    Returns
    -------
    (n,) ndarray
        The log ratio r.

    References
    ----------
    Roberts and Tweedie, Exponential convergence of Langevin distributions and their discrete
    approximations, Bernoulli 2(4), 1996 (MALA); Isachenko, DGM Lecture 7, slide 'Langevin dynamic'
    (the proposal).
    """
    eta = _step_size("step_size", step_size)
    x = C.as_float64("x", x)
    if x.ndim < 1:
        raise ValueError(f"x: expected states of shape (n, ...), got shape {x.shape}")
    arrays = {"x_proposal": x_proposal, "score_x": score_x, "score_proposal": score_proposal}
    converted = {}
    for name, a in arrays.items():
        a = C.as_float64(name, a)
        if a.shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {x.shape}, got shape {a.shape}")
        converted[name] = a
    logs = {}
    for name, a in (("log_prob_x", log_prob_x), ("log_prob_proposal", log_prob_proposal)):
        a = C.as_float64(name, a)
        if a.shape != x.shape[:1]:
            raise ValueError(f"{name}: expected shape {x.shape[:1]} (one per state of x {x.shape}), got {a.shape}")
        C.check_not_nan(name, a)
        logs[name] = a
    return _log_ratio(
        x,
        converted["x_proposal"],
        logs["log_prob_x"],
        logs["log_prob_proposal"],
        converted["score_x"],
        converted["score_proposal"],
        eta,
    )


def mala_sample(
    log_prob_fn: Callable[[np.ndarray], np.ndarray],
    score_fn: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    *,
    step_size: float,
    n_steps: int,
    noise: np.ndarray | None = None,
    uniforms: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> MALAResult:
    r"""Metropolis-adjusted Langevin algorithm: Langevin proposals with a Metropolis-Hastings test.

    .. math::

        x' = x_k + \frac{\eta}{2}\, s(x_k) + \sqrt{\eta}\, \varepsilon_k, \qquad
        x_{k+1} = \begin{cases} x' & \log u_k < r(x_k, x') \\ x_k & \text{otherwise,} \end{cases}

    with r the log ratio of :func:`mala_log_acceptance_ratio` and u_k ~ U[0, 1]. The chain leaves p
    invariant exactly, for every eta (unlike :func:`langevin_sample`); the acceptance rate tends to 1
    as eta -> 0 (for a smooth target, 1 - E alpha = O(eta^{3/2})). Each step evaluates the score and
    log p once, at the proposal; the values at the current states are carried along.

    Parameters
    ----------
    log_prob_fn : callable
        ``log_prob_fn(x) -> log p(x)`` up to an additive constant, (n, ...) -> (n,).
    score_fn : callable
        ``score_fn(x) -> grad log p(x)``, (n, ...) -> (n, ...).
    x0 : (n, ...) array_like
        Initial states, finite.
    step_size : float
        eta > 0.
    n_steps : int
        K >= 0.
    noise : (n_steps, n, d) array_like, optional
        Standard normals of the proposals; with ``uniforms``. Exactly one of (``noise`` and
        ``uniforms``) and ``rng``.
    uniforms : (n_steps, n) array_like, optional
        Uniforms u_k in [0, 1] of the accept tests.
    rng : numpy.random.Generator, optional
        Draws, per step, ``rng.standard_normal(x0.shape)`` then ``rng.uniform(size=x0.shape[:1])``.
    record_steps : sequence of int
        Strictly increasing steps in [0, n_steps] whose states go into ``trajectory`` (0 = x0).
    progress : bool
        Show a tqdm progress bar (it changes no result).

    Returns
    -------
    MALAResult
        ``samples`` (n, ...), ``trajectory`` (len(record_steps), n, ...) and ``acceptance_rate`` (n,),
        the fraction of accepted proposals per chain (NaN when n_steps = 0).

    References
    ----------
    Roberts and Tweedie, Exponential convergence of Langevin distributions and their discrete
    approximations, Bernoulli 2(4), 1996; Isachenko, DGM Lecture 7, slide 'Langevin dynamic' (the
    proposal is the Langevin step).
    """
    _callable("log_prob_fn", log_prob_fn)
    _callable("score_fn", score_fn)
    eta = _step_size("step_size", step_size)
    K = _count("n_steps", n_steps)
    x = _chains(x0)
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        if uniforms is None:
            raise ValueError(
                "uniforms: required with noise= (the accept tests' uniforms, shape (n_steps, n)), got None"
            )
        noise = _drawn("noise", noise, (K, *x.shape), "one standard normal per step and state: (n_steps, *x0.shape)")
        uniforms = _drawn("uniforms", uniforms, (K, *x.shape[:1]), "one uniform per step and chain")
        C.check_in_interval("uniforms", uniforms, 0.0, 1.0)
    elif uniforms is not None:
        raise ValueError("uniforms: pass uniforms= together with noise=, not with rng= (rng draws both)")
    record = _record_steps(record_steps, K)
    log_p, s = _log_prob(log_prob_fn, x), _score(score_fn, x)
    accepted = np.zeros(x.shape[:1])
    states = [x.copy()] if 0 in record else []
    for k in tqdm(range(K), disable=not progress, desc="MALA", unit="step"):
        if noise is not None:
            eps, u = noise[k], uniforms[k]
        else:
            eps = rng.standard_normal(x.shape)
            u = rng.uniform(size=x.shape[:1])
        x_prop = _update(x, s, eps, eta)
        log_p_prop, s_prop = _log_prob(log_prob_fn, x_prop), _score(score_fn, x_prop)
        r = _log_ratio(x, x_prop, log_p, log_p_prop, s, s_prop, eta)
        with np.errstate(divide="ignore"):
            accept = np.log(u) < r
        move = accept.reshape((-1,) + (1,) * (x.ndim - 1))  # one decision per chain, over its features
        x = np.where(move, x_prop, x)
        log_p = np.where(accept, log_p_prop, log_p)
        s = np.where(move, s_prop, s)
        accepted += accept
        if k + 1 in record:
            states.append(x.copy())
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = accepted / K
    return MALAResult(x, _trajectory(states, x), rate)
