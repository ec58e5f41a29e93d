r"""Classifier two-sample test in PyTorch: the reference's logistic regression and damped Newton, in float64.

Same formulas, names and parameters as :mod:`reference.gan.two_sample` (Advanced Course on DGM,
Lecture 8, 'Two-Sample Tests' and the log-odds slide after them).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from scipy import stats

import reference._args.gan as G

from .. import _checks as C
from .._numerics import softplus
from ._common import _check_feature_scale, _check_split, _check_two_samples

__all__ = ["C2STResult", "classifier_two_sample_test", "mean_difference_test", "variance_ratio_test"]

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


_SAMPLES_TEXT = "(..., n) with n >= 2 along the last axis (the batch axes broadcast)"


def _check_one_d_samples(x: object, y: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Two finite sample tensors (..., n), (..., m), n, m >= 2, one dtype and device, batch axes broadcasting."""
    x = C.as_float_tensor("x", x)
    y = C.as_float_tensor("y", y)
    C.check_same_device_dtype(("x", "y"), (x, y))
    for name, a in (("x", x), ("y", y)):
        if a.ndim < 1 or a.shape[-1] < 2:
            raise ValueError(f"{name}: expected samples of shape {_SAMPLES_TEXT}, got shape {tuple(a.shape)}")
    C.check_finite("x", x)
    C.check_finite("y", y)
    C.broadcast_batch(("x", "y"), (x.shape[:-1], y.shape[:-1]))
    return x, y


def _mean_var(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean and unbiased variance along the last axis (two passes, in float64 on the device)."""
    a = a.to(torch.float64)
    mean = a.mean(dim=-1)
    return mean, ((a - mean[..., None]) ** 2).sum(dim=-1) / (a.shape[-1] - 1)


def _host_p_values(fn, like: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """p-values from scipy.stats on the host (float64), returned on ``like``'s device and dtype."""
    host = [a.detach().to("cpu", torch.float64).numpy() for a in args]
    return torch.as_tensor(np.asarray(fn(*host), dtype=np.float64)).to(like.device, like.dtype)


def mean_difference_test(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Welch's two-sample t test of equal means, batched: the statistic and its two-sided p-value.

    .. math::

        T = \frac{\bar x - \bar y}{\sqrt{s_x^2 / n + s_y^2 / m}}, \qquad p = 2 \Pr(t_\nu > |T|),
        \quad \nu \text{ (Welch-Satterthwaite)}.

    Parameters
    ----------
    x : (..., n) Tensor
        Samples of P along the last axis, finite, n >= 2.
    y : (..., m) Tensor
        Samples of Q, finite, m >= 2; same dtype and device; batch axes broadcast.

    Returns
    -------
    statistic, p_value : (...) Tensor
        T (differentiable, on the device) and the two-sided p-value (in x's dtype and device).

    Notes
    -----
    The statistic and nu are computed batched on the device (means and variances in float64, the
    results cast to x's dtype: float32 samples of a small spread around a large mean keep their
    digits); the p-value is one host computation at the end (torch has no Student t CDF: T and nu
    are copied to the host and ``scipy.stats.t.sf`` evaluated there, as on the reference), so the
    p-value carries no gradient. Both samples constant is refused with a ``ValueError`` naming x, y
    (that check reads one flag on the host, as the p-value does); a non-finite statistic is refused.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Two-Sample Tests'; Welch, Biometrika 34, 1947.

    Examples
    --------
    x = (0, 2), y = (1, 3): T = -1/sqrt(2), nu = 2, p = 1 - 0.7071 / sqrt(2.5) = 0.5528 (closed form):

    >>> t, p = mean_difference_test(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0]))
    >>> round(float(t), 6), round(float(p), 4)
    (-0.707107, 0.5528)
    """
    x, y = _check_one_d_samples(x, y)
    n, m = x.shape[-1], y.shape[-1]
    mx, vx = _mean_var(x)
    my, vy = _mean_var(y)
    a, b = vx / n, vy / m
    if C.value_checks_active() and bool(((a + b) == 0).any()):
        raise ValueError("x, y: expected samples with positive variance on at least one side, got both constant")
    t = ((mx - my) / torch.sqrt(a + b)).to(x.dtype)
    nu = ((a + b) ** 2 / (a**2 / (n - 1) + b**2 / (m - 1))).to(x.dtype)
    C.check_result(t, (("x", x), ("y", y)))
    C.check_result(nu, (("x", x), ("y", y)))
    return t, _host_p_values(lambda t_, nu_: 2.0 * stats.t.sf(np.abs(t_), nu_), t, t, nu)


def variance_ratio_test(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The F test of equal variances, batched: s_x^2 / s_y^2 and its two-sided p-value under F_{n-1, m-1}.

    .. math::

        F = s_x^2 / s_y^2, \qquad p = 2 \min\bigl(\Pr(F_{n-1, m-1} \le F), \Pr(F_{n-1, m-1} \ge F)\bigr).

    Parameters
    ----------
    x : (..., n) Tensor
        Samples of P along the last axis, finite, n >= 2.
    y : (..., m) Tensor
        Samples of Q, finite, m >= 2; same dtype and device; batch axes broadcast.

    Returns
    -------
    statistic, p_value : (...) Tensor
        F (differentiable, on the device) and the two-sided p-value, at most 1.

    Notes
    -----
    F is computed batched on the device (the variances in float64, F cast to x's dtype); the p-value
    is one host computation at the end
    (``scipy.stats.f``, as on the reference: torch has no F CDF). A constant y is refused with a
    ``ValueError`` naming y; a non-finite ratio is refused.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Two-Sample Tests'; Snedecor and Cochran, 1989, Section 6.9.

    Examples
    --------
    Equal sample variances give F = 1, the median of F_{2, 2}, so p = 1 (closed form):

    >>> F, p = variance_ratio_test(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([5.0, 6.0, 7.0]))
    >>> float(F), round(float(p), 6)
    (1.0, 1.0)
    """
    x, y = _check_one_d_samples(x, y)
    n, m = x.shape[-1], y.shape[-1]
    _, vx = _mean_var(x)
    _, vy = _mean_var(y)
    if C.value_checks_active() and bool((vy == 0).any()):
        raise ValueError("y: expected samples with positive variance (the denominator of F), got a constant y")
    F = (vx / vy).to(x.dtype)
    C.check_result(F, (("x", x), ("y", y)))

    def two_sided(F_: np.ndarray) -> np.ndarray:
        return np.minimum(2.0 * np.minimum(stats.f.cdf(F_, n - 1, m - 1), stats.f.sf(F_, n - 1, m - 1)), 1.0)

    return F, _host_p_values(two_sided, F, F)
