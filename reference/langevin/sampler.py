"""The unadjusted Langevin step and chain (ULA), in both slide parametrisations (eta and eps^2).

Slides: Isachenko, DGM Lecture 7, 'Langevin dynamic'; Lecture 13, recap 'Langevin dynamics';
Advanced Course on DGM, Lecture 8, 'Langevin dynamics'; Beigy, Score-Based Generative Models,
'Score-based generative models' and Example 3.3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import _check_chain, _check_draws, _check_state, _score, _trajectory, _update

__all__ = ["LangevinResult", "langevin_sample", "langevin_step"]


class LangevinResult(NamedTuple):
    """Result of :func:`langevin_sample`, :func:`annealed_langevin_sample` and :func:`euler_maruyama_solve`.

    Examples
    --------
    Two chains, no recorded step:

    >>> LangevinResult(np.zeros((2, 1)), np.empty((0, 2, 1))).trajectory.shape
    (0, 2, 1)
    """

    samples: np.ndarray
    """(n, ...) the states after the last step (after the denoising step, where asked for)."""
    trajectory: np.ndarray
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""


def _check_step(
    x: object, score: object, step_size: object, noise: object
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """One step's inputs: eta > 0, score and noise of x's shape; as (x, s, eta, z) (their values are checked
    through the result, :func:`langevin_step`)."""
    eta = A.positive("step_size", step_size)
    x, s, z = C.as_float64("x", x), C.as_float64("score", score), C.as_float64("noise", noise)
    for name, a in (("score", s), ("noise", z)):
        if a.shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {x.shape}, got shape {a.shape}")
    return x, s, eta, z


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

    Notes
    -----
    A new state that is not finite is refused with a ``ValueError``
    (:func:`reference._checks.check_result`): it names the first non-finite input among x, score and
    noise, or says that the step overflowed float64 from finite inputs (x, score, noise or step_size
    near 1e300). The accelerated side checks the same by one device assertion.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Lecture 13, recap slide 'Langevin dynamics';
    Beigy, Score-Based Generative Models, slide 'Score-based generative models' (eta = eps^2);
    Roberts and Tweedie, Exponential convergence of Langevin distributions and their discrete
    approximations, Bernoulli 2(4), 1996 (the unadjusted Langevin algorithm, ULA).

    Examples
    --------
    eta = 0.04: x' = 1 + 0.02 * 0.5 + 0.2 * 0.1 = 1.03 (the slide's update by hand):

    >>> float(langevin_step(np.array([1.0]), np.array([0.5]), step_size=0.04, noise=np.array([0.1]))[0])
    1.03
    """
    x, s, eta, z = _check_step(x, score, step_size, noise)
    with np.errstate(over="ignore", invalid="ignore"):
        out = _update(x, s, z, eta)
    return C.check_result(out, (("x", x), ("score", s), ("noise", z), ("step_size", eta)))


def _step_sizes(step_size: object, n_steps: int) -> tuple[float, ...]:
    """Per-step sizes alpha_0, ..., alpha_(K-1): a 1-D array (or a list / tuple) of K finite numbers > 0."""
    if isinstance(step_size, np.ndarray):
        values = C.as_float64("step_size", step_size)
        if values.ndim != 1:
            raise ValueError(f"step_size: expected a number or a vector of n_steps sizes, got shape {values.shape}")
        step_size = values.tolist()
    return AL.step_sizes("step_size", step_size, n_steps)


def langevin_sample(
    score_fn: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    *,
    step_size: float | np.ndarray,
    n_steps: int,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Unadjusted Langevin chains (ULA): n_steps steps of :func:`langevin_step` from x0.

    .. math::

        x_{k+1} = x_k + \frac{\eta_k}{2}\, s(x_k) + \sqrt{\eta_k}\, \varepsilon_k,
        \qquad \varepsilon_k \sim \mathcal N(0, I), \quad k = 0, \dots, K - 1,

    with one step size eta_k = eta, or the per-step sizes alpha_t of the Advanced Course's slide
    (``step_size`` a vector of K sizes, e.g. a decreasing schedule).

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
    step_size : float or (n_steps,) array_like
        eta > 0 (eta = eps^2 in the Beigy parametrisation), or one step size per step, alpha_0, ...,
        alpha_(K-1) > 0 (a 1-D array, list or tuple of exactly n_steps finite numbers).
    n_steps : int
        K >= 0 (K = 0 returns a copy of x0).
    noise : (n_steps, n, ...) array_like, optional
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

    Notes
    -----
    A chain that diverges (a state overflows or turns NaN: the step size is too large for the target,
    or score_fn returned non-finite values) raises a ``ValueError`` saying so; the state is checked after
    every step, so a non-finite state never reaches score_fn (the accelerated side checks once, after the
    loop, with the same message).
    A ``ValueError`` that score_fn raises at a state (a model that refuses far points, e.g. a
    mixture's score at |x| = 1e300) is re-raised as the same divergence, the model's message appended.
    Per-step sizes of the wrong length (not n_steps), not 1-D, or with an entry that is not finite and
    > 0 are refused with a ``ValueError`` naming ``step_size``.
    The Advanced Course's slide writes the score as grad log p_theta(x) without an index; it is evaluated
    at the current state x_{t-1}, as here.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Lecture 13, recap slide 'Langevin dynamics';
    Advanced Course on DGM, Lecture 8, slide 'Langevin dynamics' (the per-step alpha_t); Beigy, Score-Based
    Generative Models, slide 'Score-based generative models' and Example 3.3; Roberts and Tweedie, Bernoulli 2(4), 1996.

    Examples
    --------
    On N(0, 1) without noise each step multiplies x by the AR(1) factor 1 - eta/2 = 0.75 (eta = 0.5),
    so two steps from 1 give 0.75^2 = 0.5625:

    >>> out = langevin_sample(lambda x: -x, np.ones((1, 1)), step_size=0.5, n_steps=2, noise=np.zeros((2, 1, 1)))
    >>> float(out.samples[0, 0])
    0.5625

    Per-step sizes alpha_t = (0.5, 1.0): factors 0.75 and 0.5, so 0.375:

    >>> out = langevin_sample(lambda x: -x, np.ones((1, 1)), step_size=[0.5, 1.0], n_steps=2, noise=np.zeros((2, 1, 1)))
    >>> float(out.samples[0, 0])
    0.375
    """
    per_step = isinstance(step_size, (np.ndarray, list, tuple))
    x, eta = _check_chain(score_fn, x0, 1.0 if per_step else step_size, noise, rng)
    K = A.count("n_steps", n_steps, minimum=0)
    sizes = _step_sizes(step_size, K) if per_step else (eta,) * K
    noise, record = _check_draws(noise, x, (K,), record_steps)
    states = [x.copy()] if 0 in record else []
    for k in tqdm(range(K), disable=not A.flag("progress", progress), desc="Langevin", unit="step"):
        eps = noise[k] if noise is not None else rng.standard_normal(x.shape)
        x = _update(x, _score(score_fn, x), eps, sizes[k])
        _check_state(x, "score_fn")
        if k + 1 in record:
            states.append(x.copy())
    return LangevinResult(x, _trajectory(states, x))
