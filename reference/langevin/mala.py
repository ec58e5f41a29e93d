"""The Metropolis-adjusted Langevin algorithm (MALA): the Langevin step as a proposal, with an accept test.

Slides: the proposal is the Langevin step of Isachenko, DGM Lecture 7, 'Langevin dynamic'; the
Metropolis-Hastings correction (Roberts and Tweedie 1996) goes beyond the slides and removes the
bias of the unadjusted chain at a fixed step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import _check_chain, _check_drawn, _check_draws, _check_state, _log_prob, _score, _trajectory, _update

__all__ = ["MALAResult", "mala_log_acceptance_ratio", "mala_sample"]


class MALAResult(NamedTuple):
    """Result of :func:`mala_sample`.

    Examples
    --------
    One chain that accepted 3 of 4 proposals:

    >>> float(MALAResult(np.zeros((1, 1)), np.empty((0, 1, 1)), np.array([0.75])).acceptance_rate.mean())
    0.75
    """

    samples: np.ndarray
    """(n, ...) the states after the last step."""
    trajectory: np.ndarray
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""
    acceptance_rate: np.ndarray
    """(n,) per chain, the fraction of the n_steps proposals accepted (NaN for n_steps = 0);
    ``acceptance_rate.mean()`` is the overall rate."""


def _log_q(x_to: np.ndarray, x_from: np.ndarray, score_from: np.ndarray, eta: float) -> np.ndarray:
    """log q(x_to | x_from) of the Langevin proposal N(x_from + (eta/2) s(x_from), eta I), up to a constant."""
    r = x_to - x_from - (eta / 2.0) * score_from
    return -np.sum((r * r).reshape(r.shape[0], -1), axis=1) / (2.0 * eta)


def _log_p_diff(log_p: np.ndarray, log_p_prop: np.ndarray) -> np.ndarray:
    """log p(x') - log p(x), -inf (reject) where log p(x') = -inf (so -inf - (-inf) is -inf, not NaN)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(log_p_prop == -np.inf, -np.inf, log_p_prop - log_p)


def _log_q_terms(x: np.ndarray, x_prop: np.ndarray, s: np.ndarray, s_prop: np.ndarray, eta: float) -> tuple:
    """log q(x | x') and log q(x' | x) (overflow to -inf where |x' - x| is near the float64 range)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _log_q(x, x_prop, s_prop, eta), _log_q(x_prop, x, s, eta)


def _log_ratio(
    x: np.ndarray,
    x_prop: np.ndarray,
    log_p: np.ndarray,
    log_p_prop: np.ndarray,
    s: np.ndarray,
    s_prop: np.ndarray,
    eta: float,
) -> np.ndarray:
    """The MALA log ratio r without checks (the loop's inner step); -inf where log p(x') = -inf (rejected)."""
    q_back, q_forward = _log_q_terms(x, x_prop, s, s_prop, eta)
    with np.errstate(invalid="ignore"):
        return _log_p_diff(log_p, log_p_prop) + q_back - q_forward


def _check_proposal(
    x: object,
    x_proposal: object,
    log_prob_x: object,
    log_prob_proposal: object,
    score_x: object,
    score_proposal: object,
    step_size: object,
) -> tuple[np.ndarray, ...]:
    """(x, x_proposal, log_prob_x, log_prob_proposal, score_x, score_proposal) as float64: x (n, ...),
    the proposal and both scores of x's shape, both log-densities (n,) without NaN (-inf allowed);
    and eta > 0. Returns the six converted, then eta."""
    eta = A.positive("step_size", step_size)
    arrays = (x, x_proposal, log_prob_x, log_prob_proposal, score_x, score_proposal)
    names = ("x", "x_proposal", "log_prob_x", "log_prob_proposal", "score_x", "score_proposal")
    a = dict(zip(names, (C.as_float64(name, v) for name, v in zip(names, arrays))))
    x = a["x"]
    if x.ndim < 1:
        raise ValueError(f"x: expected states of shape (n, ...), got shape {x.shape}")
    for name in ("x_proposal", "score_x", "score_proposal"):
        if a[name].shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {x.shape}, got shape {a[name].shape}")
    for name in ("x", "x_proposal", "score_x", "score_proposal"):
        C.check_finite(name, a[name])
    for name in ("log_prob_x", "log_prob_proposal"):
        if a[name].shape != x.shape[:1]:
            raise ValueError(
                f"{name}: expected shape {x.shape[:1]} (one per state of x {x.shape}), got {a[name].shape}"
            )
        if not np.all(a[name] < np.inf):  # NaN compares False too
            bad = int(np.count_nonzero(~(a[name] < np.inf)))
            raise ValueError(f"{name}: expected no NaN or +inf (log-densities; -inf allowed), got {bad} such entries")
    return (*a.values(), eta)


def _check_uniforms(uniforms: object, noise: np.ndarray | None, x: np.ndarray, K: int) -> np.ndarray | None:
    """The accept tests' uniforms: with noise=, (K, n) in [0, 1]; with rng=, None (rng draws them)."""
    if noise is None:
        if uniforms is not None:
            raise ValueError("uniforms: pass uniforms= together with noise=, not with rng= (rng draws both)")
        return None
    if uniforms is None:
        raise ValueError("uniforms: required with noise= (the accept tests' uniforms, shape (n_steps, n)), got None")
    uniforms = _check_drawn("uniforms", uniforms, x, (K, *x.shape[:1]), "one uniform per step and chain")
    C.check_in_interval("uniforms", uniforms, 0.0, 1.0)
    return uniforms


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
    are fine. r is not clipped at 0.

    Parameters
    ----------
    x, x_proposal : (n, ...) array_like
        Current states and proposals, finite.
    log_prob_x, log_prob_proposal : (n,) array_like
        log p (up to a constant) at x and x'; -inf allowed, not NaN or +inf.
    score_x, score_proposal : (n, ...) array_like
        The score at x and x', finite.
    step_size : float
        eta > 0, the step of the proposal x' = x + (eta/2) s(x) + sqrt(eta) eps.

    Returns
    -------
    (n,) ndarray
        The log ratio r.

    Notes
    -----
    r = -inf (reject) where log p(x') = -inf (also where log p is -inf at both points, where the
    difference would be inf - inf), and +inf where log p(x) = -inf < log p(x') or where
    log p(x') - log p(x) overflows float64 (log-densities near 1e308); never NaN. Log-densities may be
    -inf but not NaN or +inf (a ``ValueError`` naming the argument). Proposal terms that overflow
    float64 from finite inputs (|x' - x| or the scores near 1e300) are refused with a ``ValueError``
    naming x, x_proposal, score_x, score_proposal (:func:`reference._checks.check_result`).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic' (the proposal); Roberts and Tweedie,
    Exponential convergence of Langevin distributions and their discrete approximations,
    Bernoulli 2(4), 1996 (MALA).

    Examples
    --------
    On N(0, 1), r = (eta / 8)(x^2 - x'^2) for every x, x' (closed form); x = 1, x' = 0, eta = 0.8
    give r = 0.1:

    >>> r = mala_log_acceptance_ratio(np.ones((1, 1)), np.zeros((1, 1)), np.array([-0.5]), np.zeros(1),
    ...                               -np.ones((1, 1)), np.zeros((1, 1)), step_size=0.8)
    >>> round(float(r[0]), 12)
    0.1
    """
    x, x_prop, log_p, log_p_prop, s, s_prop, eta = _check_proposal(
        x, x_proposal, log_prob_x, log_prob_proposal, score_x, score_proposal, step_size
    )
    q_back, q_forward = _log_q_terms(x, x_prop, s, s_prop, eta)
    with np.errstate(invalid="ignore"):
        C.check_result(
            q_back - q_forward, (("x", x), ("x_proposal", x_prop), ("score_x", s), ("score_proposal", s_prop))
        )
    return _log_p_diff(log_p, log_p_prop) + q_back - q_forward


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
    noise : (n_steps, n, ...) array_like, optional
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

    Notes
    -----
    A chain that diverges (a proposal or its score overflows or turns NaN: the step size is too large
    for the target, the noise is not standard normal, or score_fn / log_prob_fn returned non-finite
    values) raises a ``ValueError`` saying so and naming step_size / noise / score_fn / log_prob_fn;
    each proposal is checked after every step, so a non-finite proposal never reaches score_fn /
    log_prob_fn (the accelerated side checks once, after the loop, with the same message). A
    ``ValueError`` that score_fn or log_prob_fn raises at a proposal (a model that refuses far points,
    e.g. a mixture's score at |x| = 1e300, where a huge step size or noise carried the chain) is
    re-raised as the same divergence, with the model's message appended; raised at x0 (the first
    evaluation), it is re-raised naming x0.

    With n_steps = 0 no proposal is made and ``acceptance_rate`` is NaN (0 accepted of 0: undefined,
    on purpose, so that it cannot be read as a rate of 0 or 1).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic' (the proposal is the Langevin step); Roberts
    and Tweedie, Exponential convergence of Langevin distributions and their discrete approximations,
    Bernoulli 2(4), 1996.

    Examples
    --------
    On N(0, 1) from x0 = 1 with eta = 0.8 and no noise the proposal is 0.6, and
    r = (eta / 8)(1 - 0.36) > 0 = log u for u = 1: accepted (closed form of r):

    >>> out = mala_sample(lambda x: -0.5 * (x**2).sum(-1), lambda x: -x, np.ones((1, 1)), step_size=0.8,
    ...                   n_steps=1, noise=np.zeros((1, 1, 1)), uniforms=np.ones((1, 1)))
    >>> round(float(out.samples[0, 0]), 12), float(out.acceptance_rate[0])
    (0.6, 1.0)
    """
    AL.function("log_prob_fn", log_prob_fn)
    x, eta = _check_chain(score_fn, x0, step_size, noise, rng)
    K = A.count("n_steps", n_steps, minimum=0)
    noise, record = _check_draws(noise, x, (K,), record_steps)
    uniforms = _check_uniforms(uniforms, noise, x, K)
    fns = ("score_fn", "log_prob_fn")
    log_p = _log_prob(log_prob_fn, x, fns, initial=True)
    s = _score(score_fn, x, functions=fns, initial=True)
    accepted = np.zeros(x.shape[:1])
    states = [x.copy()] if 0 in record else []
    for k in tqdm(range(K), disable=not A.flag("progress", progress), desc="MALA", unit="step"):
        if noise is not None:
            eps, u = noise[k], uniforms[k]
        else:
            eps = rng.standard_normal(x.shape)
            u = rng.uniform(size=x.shape[:1])
        x_prop = _update(x, s, eps, eta)
        _check_state(x_prop, *fns)
        log_p_prop, s_prop = _log_prob(log_prob_fn, x_prop, fns), _score(score_fn, x_prop, functions=fns)
        _check_state(s_prop, *fns)  # a non-finite score would carry the chain to NaN
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
