r"""Classifier two-sample test in PyTorch: the reference's logistic regression and damped Newton, in float64.

Same formulas, names and parameters as :mod:`reference.gan.two_sample` (Advanced Course on DGM,
Lecture 8, 'Two-Sample Tests' and the log-odds slide after them).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

import reference._args.gan as G

from .._numerics import softplus
from ._common import _check_feature_scale, _check_split, _check_two_samples

__all__ = ["C2STResult", "classifier_two_sample_test"]

# Newton solve: squared Newton decrement below which the full step is taken (as in reference.gan).
_FULL_STEP_DECREMENT = 1e-10

# The error of a Newton system that is singular or not finite (the reference's text).
_SINGULAR = (
    "x, y: expected features whose scale the logistic regression can fit, got a singular or non-finite "
    "Newton system (every training logit saturated: features far larger than 1 / sqrt(weight_decay)?); "
    "rescale the features"
)


class C2STResult(NamedTuple):
    """Result of :func:`classifier_two_sample_test` (float64 tensors on the inputs' device).

    Examples
    --------
    The fields by name (a named tuple):

    >>> float(C2STResult(torch.tensor(0.75), torch.tensor(0.3), 8, torch.zeros(1), torch.tensor(0.0)).accuracy)
    0.75
    """

    accuracy: torch.Tensor
    """() held-out accuracy (threshold logit > 0)."""
    p_value: torch.Tensor
    """() P(Binom(n_test, p0) >= correct), p0 the larger class fraction of the test set."""
    n_test: int
    """Number of held-out points."""
    weights: torch.Tensor
    """(d,) fitted weights."""
    bias: torch.Tensor
    """() fitted bias."""


def _logistic_newton(X: torch.Tensor, y: torch.Tensor, weight_decay: float, max_iter: int, tol: float) -> torch.Tensor:
    """Damped Newton (IRLS) for L2-penalised logistic regression: the reference's iteration, in float64.

    See ``reference.gan.two_sample._logistic_newton`` for the step rule and why the converged iteration still
    takes its step. Reads two scalars on the host per iteration (the stopping test and the Armijo test);
    a singular (``solve_ex``'s info) or non-finite Newton system raises ``ValueError`` naming x, y, read
    with the Newton decrement.
    """
    m, d = X.shape
    A = torch.cat([X, torch.ones(m, 1, dtype=X.dtype, device=X.device)], dim=1)
    penalty = torch.full((d + 1,), weight_decay, dtype=X.dtype, device=X.device)
    penalty[d] = 0.0

    def objective(theta: torch.Tensor) -> float:
        s = A @ theta
        return float((softplus(s) - y * s).mean() + 0.5 * (penalty * theta**2).sum())

    theta = torch.zeros(d + 1, dtype=X.dtype, device=X.device)
    L = objective(theta)
    for _ in range(max_iter):
        s = A @ theta
        sigma = torch.sigmoid(s)
        gradient = A.T @ (sigma - y) / m + penalty * theta
        converged = float(gradient.abs().max()) < tol
        H = (A.T * (sigma * (1.0 - sigma))) @ A / m + torch.diag(penalty)
        step, info = torch.linalg.solve_ex(H, -gradient)
        decrease = float(torch.where(info == 0, gradient @ step, math.nan))  # the one read of the step
        if not math.isfinite(decrease):
            raise ValueError(_SINGULAR)
        t = 1.0
        if -decrease > _FULL_STEP_DECREMENT * (1.0 + abs(L)):
            while objective(theta + t * step) > L + 1e-4 * t * decrease and t > 2.0**-40:
                t *= 0.5
        theta = theta + t * step
        L = objective(theta)
        if converged:
            break
    return theta


def _binomial_upper_tail(correct: torch.Tensor, n: int, p0: float) -> torch.Tensor:
    """P(Binom(n, p0) >= correct) as exp(logsumexp of log pmf over k >= correct), no host read."""
    k = torch.arange(n + 1, dtype=torch.float64, device=correct.device)
    log_pmf = (
        math.lgamma(n + 1)
        - torch.lgamma(k + 1.0)
        - torch.lgamma(n - k + 1.0)
        + k * math.log(p0)
        + (n - k) * math.log1p(-p0)
    )
    log_pmf = torch.where(k >= correct, log_pmf, torch.full_like(log_pmf, -math.inf))
    return torch.logsumexp(log_pmf, dim=0).exp().clamp(max=1.0)


def classifier_two_sample_test(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    test_fraction: float = 0.5,
    weight_decay: float = 1e-2,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> C2STResult:
    r"""Classifier two-sample test with logistic regression (see :func:`reference.gan.classifier_two_sample_test`).

    .. math::

        \hat t = \frac1{n_{te}} \sum_{i \in te} \bigl[\, [w^\top x_i + b > 0] = \ell_i \,\bigr],
        \qquad p = \Pr\bigl(\operatorname{Binom}(n_{te}, p_0) \ge n_{te} \hat t\bigr).

    Same split, the same damped Newton iteration and the same exact binomial p-value as the
    reference.

    Parameters
    ----------
    x : (n_x, d) Tensor
        Samples from P (label 1), finite.
    y : (n_y, d) Tensor
        Samples from Q (label 0), finite; same d, dtype and device.
    test_fraction : float
        Fraction of each set held out, in (0, 1).
    weight_decay : float
        L2 penalty on w, > 0.
    noise : (n_x + n_y,) Tensor, optional
        Uniforms in [0, 1] defining the split. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        On the inputs' device: draws the uniforms (float64) there.
    max_iter : int
        Newton iteration limit (> 0).
    tol : float
        Gradient max-abs stopping tolerance (> 0).

    Returns
    -------
    C2STResult
        ``(accuracy, p_value, n_test, weights, bias)``, float64 tensors on the inputs' device
        (``n_test`` an int).

    Raises
    ------
    ValueError
        Naming ``x`` or ``y`` where a feature's sum of squares over that set overflows float64, and
        naming ``x, y`` where the Newton system is singular or not finite, as the reference.

    Notes
    -----
    The solve runs in float64 whatever the input dtype, and the p-value is the log-space sum
    ``logsumexp_k log pmf(k)`` with ``lgamma``; the stopping and Armijo tests read two scalars on the
    host per Newton iteration. The feature-scale check is a device assertion on the float64 copies
    (``x`` at 1e154 and above overflows its squares, in every input dtype); a singular or non-finite
    Newton system is detected with the Newton decrement that the iteration reads anyway, and refused
    rather than returned as NaN or zero weights with a chance accuracy.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'Two-Sample Tests' and the log-odds slide after them;
    Lopez-Paz, Oquab, Revisiting Classifier Two-Sample Tests, ICLR 2017.

    Examples
    --------
    Two sets that a threshold at 0 separates: every held-out point is right, so the p-value is
    P(Binom(4, 1/2) >= 4) = 1/16 (closed form):

    >>> x = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    >>> result = classifier_two_sample_test(x, -x, noise=torch.linspace(0.0, 1.0, 8, dtype=torch.float64))
    >>> round(float(result.accuracy), 6), round(float(result.p_value), 6), result.n_test
    (1.0, 0.0625, 4)
    """
    x, y = _check_two_samples(x, y)
    n_x, n_y = x.shape[0], y.shape[0]
    m_x, m_y, weight_decay, max_iter, tol = G.two_sample_settings(n_x, n_y, test_fraction, weight_decay, max_iter, tol)
    u = _check_split(noise, rng, x, y)

    x = x.detach().to(torch.float64)[torch.argsort(u[:n_x], stable=True)]
    y = y.detach().to(torch.float64)[torch.argsort(u[n_x:], stable=True)]
    _check_feature_scale(x, y)
    X_test = torch.cat([x[:m_x], y[:m_y]])
    label_test = torch.cat([x.new_ones(m_x), y.new_zeros(m_y)])
    X_train = torch.cat([x[m_x:], y[m_y:]])
    label_train = torch.cat([x.new_ones(n_x - m_x), y.new_zeros(n_y - m_y)])

    theta = _logistic_newton(X_train, label_train, weight_decay, max_iter, tol)
    w, b = theta[:-1], theta[-1]
    predicted = (X_test @ w + b > 0).to(torch.float64)
    n_test = m_x + m_y
    correct = (predicted == label_test).sum().to(torch.float64)
    p0 = max(m_x, m_y) / n_test
    p_value = _binomial_upper_tail(correct, n_test, p0)
    return C2STResult(correct / n_test, p_value, n_test, w, b)
