"""The Metropolis-adjusted Langevin algorithm (MALA) in PyTorch: the accept test on the device, r in float64.

Same formulas as :mod:`reference.langevin.mala` (the proposal: Isachenko, DGM Lecture 7, 'Langevin
dynamic'; the Metropolis-Hastings correction: Roberts and Tweedie 1996, beyond the slides).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import (
    _check_chain,
    _check_drawn,
    _check_draws,
    _check_state,
    _log_prob,
    _per_chain,
    _Recorder,
    _score,
    _standard_normals,
    _steps,
)
from ._update import _update

__all__ = ["MALAResult", "mala_log_acceptance_ratio", "mala_sample"]

F64 = torch.float64


class MALAResult(NamedTuple):
    """Result of :func:`mala_sample` (tensors like x0).

    Examples
    --------
    One chain that accepted 3 of 4 proposals:

    >>> float(MALAResult(torch.zeros(1, 1), torch.empty(0, 1, 1), torch.tensor([0.75])).acceptance_rate.mean())
    0.75
    """

    samples: torch.Tensor
    """(n, ...) the states after the last step."""
    trajectory: torch.Tensor
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""
    acceptance_rate: torch.Tensor
    """(n,) per chain, the fraction of accepted proposals (NaN for n_steps = 0), in x0's dtype."""


def _log_q(x_to: torch.Tensor, x_from: torch.Tensor, score_from: torch.Tensor, eta: float) -> torch.Tensor:
    """log q(x_to | x_from) up to a constant, float64 inputs."""
    r = x_to - x_from - (eta / 2.0) * score_from
    return -(r * r).sum(dim=tuple(range(1, r.ndim))) / (2.0 * eta)


def _log_p_diff(log_p: torch.Tensor, log_p_prop: torch.Tensor) -> torch.Tensor:
    """log p(x') - log p(x) in float64, -inf (reject) where log p(x') = -inf (-inf - (-inf) is -inf, not NaN)."""
    log_p, log_p_prop = log_p.to(F64), log_p_prop.to(F64)
    return torch.where(log_p_prop == -math.inf, log_p_prop, log_p_prop - log_p)


def _log_q_terms(
    x: torch.Tensor, x_prop: torch.Tensor, s: torch.Tensor, s_prop: torch.Tensor, eta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """log q(x | x') and log q(x' | x) in float64."""
    x, x_prop, s, s_prop = (t.to(F64) for t in (x, x_prop, s, s_prop))
    return _log_q(x, x_prop, s_prop, eta), _log_q(x_prop, x, s, eta)


def _log_ratio(
    x: torch.Tensor,
    x_prop: torch.Tensor,
    log_p: torch.Tensor,
    log_p_prop: torch.Tensor,
    s: torch.Tensor,
    s_prop: torch.Tensor,
    eta: float,
) -> torch.Tensor:
    """The MALA log ratio in float64 (see the module docstring), without checks; -inf where log p(x') = -inf."""
    q_back, q_forward = _log_q_terms(x, x_prop, s, s_prop, eta)
    return _log_p_diff(log_p, log_p_prop) + q_back - q_forward


def _below_inf(name: str, t: torch.Tensor) -> None:
    """Log-densities without NaN or +inf (-inf allowed): one device assertion, no host read."""
    if t.numel() and C.value_checks_active():
        C.require(t.lt(math.inf).all(), _below_inf_message, _below_inf_detail, name, t)


def _below_inf_message(name: str, t: torch.Tensor) -> str:
    return f"{name}: expected no NaN or +inf (log-densities; -inf allowed)"


def _below_inf_detail(name: str, t: torch.Tensor) -> str:
    bad = int((~t.detach().lt(math.inf)).sum())
    return f"{name}: expected no NaN or +inf (log-densities; -inf allowed), got {bad} such entries"


def _check_proposal(
    x: object,
    x_proposal: object,
    log_prob_x: object,
    log_prob_proposal: object,
    score_x: object,
    score_proposal: object,
    step_size: object,
) -> tuple[torch.Tensor, ...]:
    """(x, x_proposal, log_prob_x, log_prob_proposal, score_x, score_proposal) of one dtype and device:
    x (n, ...), the proposal and both scores of x's shape, both log-densities (n,) without NaN (-inf allowed);
    and eta > 0. Returns the six converted, then eta."""
    eta = A.positive("step_size", step_size)
    arrays = (x, x_proposal, log_prob_x, log_prob_proposal, score_x, score_proposal)
    names = ("x", "x_proposal", "log_prob_x", "log_prob_proposal", "score_x", "score_proposal")
    t = dict(zip(names, (C.as_float_tensor(name, v) for name, v in zip(names, arrays))))
    C.check_same_device_dtype(names, tuple(t.values()))
    x = t["x"]
    if x.ndim < 1:
        raise ValueError(f"x: expected states of shape (n, ...), got shape {tuple(x.shape)}")
    for name in ("x_proposal", "score_x", "score_proposal"):
        if t[name].shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {tuple(x.shape)}, got shape {tuple(t[name].shape)}")
    for name in ("x", "x_proposal", "score_x", "score_proposal"):
        C.check_finite(name, t[name])
    for name in ("log_prob_x", "log_prob_proposal"):
        if t[name].shape != x.shape[:1]:
            raise ValueError(
                f"{name}: expected shape {tuple(x.shape[:1])} (one per state of x {tuple(x.shape)}), "
                f"got {tuple(t[name].shape)}"
            )
        _below_inf(name, t[name])
    return (*t.values(), eta)


def _check_uniforms(uniforms: object, noise: torch.Tensor | None, x: torch.Tensor, K: int) -> torch.Tensor | None:
    """The accept tests' uniforms: with noise=, (K, n) in [0, 1] like x; with rng=, None (rng draws them)."""
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
    x: torch.Tensor,
    x_proposal: torch.Tensor,
    log_prob_x: torch.Tensor,
    log_prob_proposal: torch.Tensor,
    score_x: torch.Tensor,
    score_proposal: torch.Tensor,
    *,
    step_size: float,
) -> torch.Tensor:
    r"""Log Metropolis-Hastings ratio of the Langevin proposal (see the reference), computed in float64.

    .. math::

        r = \log p(x') - \log p(x) + \log q(x \mid x') - \log q(x' \mid x), \qquad
        \log q(x' \mid x) = -\frac{\lVert x' - x - \frac{\eta}{2} s(x) \rVert^2}{2\eta} + \text{const}.

    Parameters
    ----------
    x, x_proposal : (n, ...) Tensor
        Current states and proposals, finite.
    log_prob_x, log_prob_proposal : (n,) Tensor
        log p (up to a constant) at x and x'; -inf allowed, not NaN or +inf.
    score_x, score_proposal : (n, ...) Tensor
        The scores there, finite. All six of one dtype and device.
    step_size : float
        eta > 0.

    Returns
    -------
    (n,) Tensor
        r, in the inputs' dtype (computed in float64).

    Notes
    -----
    Computed in float64 for every input dtype: its two proposal terms cancel to O(eta^{3/2}), which
    float32 rounding of |x - x'|^2 / (2 eta) would swamp at small eta. As on the reference side:
    r = -inf (reject) where log p(x') = -inf (also where log p is -inf at both points), and +inf where
    log p(x) = -inf < log p(x') or where log p(x') - log p(x) overflows; never NaN. Log-densities may
    be -inf but not NaN or +inf, and proposal terms that overflow float64 from finite inputs are
    refused with a ``ValueError`` naming x, x_proposal, score_x, score_proposal (device assertions, no
    host read).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic' (the proposal); Roberts and Tweedie, Bernoulli
    2(4), 1996 (MALA).

    Examples
    --------
    On N(0, 1), r = (eta / 8)(x^2 - x'^2) for every x, x' (closed form); x = 1, x' = 0, eta = 0.8
    give r = 0.1:

    >>> one, zero = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    >>> r = mala_log_acceptance_ratio(one, zero, -0.5 * one[:, 0], zero[:, 0], -one, zero, step_size=0.8)
    >>> round(float(r[0]), 12)
    0.1
    """
    x, x_prop, log_p, log_p_prop, s, s_prop, eta = _check_proposal(
        x, x_proposal, log_prob_x, log_prob_proposal, score_x, score_proposal, step_size
    )
    q_back, q_forward = _log_q_terms(x, x_prop, s, s_prop, eta)
    if C.value_checks_active():  # the proposal terms overflow where |x' - x| nears the float64 range
        C.check_result(
            q_back - q_forward, (("x", x), ("x_proposal", x_prop), ("score_x", s), ("score_proposal", s_prop))
        )
    return (_log_p_diff(log_p, log_p_prop) + q_back - q_forward).to(x.dtype)


def mala_sample(
    log_prob_fn: Callable[[torch.Tensor], torch.Tensor],
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    step_size: float,
    n_steps: int,
    noise: torch.Tensor | None = None,
    uniforms: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> MALAResult:
    r"""Metropolis-adjusted Langevin algorithm (see :func:`reference.langevin.mala_sample`), no host syncs.

    .. math::

        x' = x_k + \frac{\eta}{2} s(x_k) + \sqrt{\eta}\, \varepsilon_k, \qquad
        x_{k+1} = x' \text{ where } \log u_k < r(x_k, x'), \text{ else } x_k.

    Parameters
    ----------
    log_prob_fn : callable
        ``log_prob_fn(x) -> log p(x)`` (up to a constant), (n, ...) -> (n,), on x's device.
    score_fn : callable
        ``score_fn(x) -> grad log p(x)``, (n, ...) -> (n, ...).
    x0 : (n, ...) Tensor
        Initial states, finite.
    step_size : float
        eta > 0.
    n_steps : int
        K >= 0.
    noise : (n_steps, n, d) Tensor, optional
        Standard normals of the proposals, with ``uniforms``; or ``rng``.
    uniforms : (n_steps, n) Tensor, optional
        Uniforms in [0, 1] of the accept tests.
    rng : torch.Generator, optional
        Draws, per step, ``torch.randn(x0.shape, ...)`` then ``torch.rand(x0.shape[:1], ...)``, on x0's
        device (where the generator must be).
    record_steps : sequence of int
        Strictly increasing steps in [0, n_steps] whose states go into ``trajectory`` (0 = x0).
    progress : bool
        Show a tqdm progress bar (it changes no result).

    Returns
    -------
    MALAResult
        ``samples`` (n, ...), ``trajectory`` (len(record_steps), n, ...), ``acceptance_rate`` (n,).

    Notes
    -----
    The accept test is a ``torch.where`` on the device; the per-chain count of acceptances is
    accumulated there and divided by n_steps at the end. The log ratio r is computed in float64.

    A chain that diverges (a proposal or its score overflows or turns NaN: the step size is too large
    for the target, the noise is not standard normal, or score_fn / log_prob_fn returned non-finite
    values) raises a ``ValueError`` saying so, with the reference's message: a flag that every proposal
    and its score are finite is kept on the device and asserted once after the loop, no host read (on
    CUDA a failure surfaces at the next synchronisation; skipped with value checks off, where the
    non-finite states are returned). A ``ValueError`` that score_fn or log_prob_fn raises at x0 is
    re-raised naming x0, and at a proposal as the divergence (as on the reference side; inside the
    loop this library's own models do not raise, their checks being off).

    With n_steps = 0 ``acceptance_rate`` is NaN (0 accepted of 0: undefined, as on the reference side).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic' (the proposal); Roberts and Tweedie, Exponential
    convergence of Langevin distributions and their discrete approximations, Bernoulli 2(4), 1996.

    Examples
    --------
    On N(0, 1) from x0 = 1 with eta = 0.8 and no noise the proposal is 0.6, and
    r = (eta / 8)(1 - 0.36) > 0 = log u for u = 1: accepted (closed form of r):

    >>> f64 = torch.float64
    >>> out = mala_sample(lambda x: -0.5 * (x**2).sum(-1), lambda x: -x, torch.ones(1, 1, dtype=f64), step_size=0.8,
    ...                   n_steps=1, noise=torch.zeros(1, 1, 1, dtype=f64), uniforms=torch.ones(1, 1, dtype=f64))
    >>> round(float(out.samples[0, 0]), 12), float(out.acceptance_rate[0])
    (0.6, 1.0)
    """
    AL.function("log_prob_fn", log_prob_fn)
    x, eta = _check_chain(score_fn, x0, step_size, noise, rng)
    K = A.count("n_steps", n_steps, minimum=0)
    noise, record = _check_draws(noise, x, (K,), record_steps)
    uniforms = _check_uniforms(uniforms, noise, x, K)
    record = _Recorder(record, x)
    record(0, x)
    a, b = eta / 2.0, math.sqrt(eta)
    fns = ("score_fn", "log_prob_fn")
    log_p = _log_prob(log_prob_fn, x, fns, initial=True)
    s = _score(score_fn, x, functions=fns, initial=True)
    accepted = torch.zeros(x.shape[:1], dtype=x.dtype, device=x.device)
    ok = torch.ones((), dtype=torch.bool, device=x.device) if C.value_checks_active() else None
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in _steps(K, progress, "MALA"):
            if noise is not None:
                eps, u = noise[k], uniforms[k]
            else:
                eps = _standard_normals(rng, x)
                u = torch.rand(x.shape[:1], generator=rng, device=x.device, dtype=x.dtype)
            x_prop = _update(x, s, eps, a, b)
            log_p_prop, s_prop = _log_prob(log_prob_fn, x_prop, fns), _score(score_fn, x_prop, functions=fns)
            if ok is not None:  # proposals and their scores finite: a device flag, asserted once after the loop
                ok.logical_and_(C.finite_flag(x_prop)).logical_and_(C.finite_flag(s_prop))
            accept = torch.log(u.to(F64)) < _log_ratio(x, x_prop, log_p, log_p_prop, s, s_prop, eta)
            move = _per_chain(accept, x)
            x = torch.where(move, x_prop, x)
            log_p = torch.where(accept, log_p_prop, log_p)
            s = torch.where(move, s_prop, s)
            accepted += accept
            record(k + 1, x)
    _check_state(x, *fns, ok=ok)
    return MALAResult(x, record.trajectory, accepted / K if K > 0 else torch.full_like(accepted, math.nan))
