r"""Two-sample tests: the classifier test (C2ST) and the slide's mean-difference and variance statistics.

Slides: Advanced Course on DGM, Lecture 8, 'Two-Sample Tests' ("difference in means, variances of the
two sets of samples") and the log-odds slide after them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import special, stats

import reference._args.gan as G

from .. import _checks as C
from ._common import _check_feature_scale, _check_split, _check_two_samples, _softplus

__all__ = ["C2STResult", "classifier_two_sample_test", "mean_difference_test", "variance_ratio_test"]

# Newton solve: squared Newton decrement below which the full step is taken (see _logistic_newton).
_FULL_STEP_DECREMENT = 1e-10

# The error of a Newton system that is singular or not finite (same text on the accelerated side).
_SINGULAR = (
    "x, y: expected features whose scale the logistic regression can fit, got a singular or non-finite "
    "Newton system (every training logit saturated: features far larger than 1 / sqrt(weight_decay)?); "
    "rescale the features"
)


class C2STResult(NamedTuple):
    """Result of :func:`classifier_two_sample_test`.

    Examples
    --------
    The fields by name (a named tuple):

    >>> C2STResult(0.75, 0.3, 8, np.zeros(1), 0.0).accuracy
    0.75
    """

    accuracy: float
    """Held-out accuracy of the logistic regression (threshold logit > 0)."""
    p_value: float
    """P(Binom(n_test, p0) >= correct), p0 the larger class fraction of the test set."""
    n_test: int
    """Number of held-out points."""
    weights: np.ndarray
    """(d,) fitted weights w of the logit w^T x + b."""
    bias: float
    """Fitted bias b."""


def _logistic_newton(
    X: np.ndarray, y: np.ndarray, weight_decay: float, max_iter: int, tol: float
) -> tuple[np.ndarray, float]:
    """Minimise mean log-loss + weight_decay/2 ||w||^2 over (w, b) by damped Newton (IRLS), from zero.

    Each iteration solves H step = -gradient. While the squared Newton decrement -gradient . step
    exceeds ``_FULL_STEP_DECREMENT`` (1 + |L|), the step is halved until the Armijo condition holds
    (at most 40 halvings); below that the full step is taken (the quadratic-convergence region, where
    comparing two objective values equal to 1e-16 would be decided by rounding). The iteration on
    which max |gradient| < tol is detected still takes its step and then stops: that last step squares
    the remaining error, so the result does not depend on which side of ``tol`` rounding puts the
    last gradient (the accelerated side runs the same iteration). A singular or non-finite Newton
    system raises ``ValueError`` naming x, y.
    """
    m, d = X.shape
    A = np.concatenate([X, np.ones((m, 1))], axis=1)  # [x, 1]: theta = (w, b)
    penalty = np.full(d + 1, weight_decay)
    penalty[d] = 0.0  # the bias is not penalised

    def objective(theta: np.ndarray) -> float:
        s = A @ theta
        return float(np.mean(_softplus(s) - y * s) + 0.5 * np.sum(penalty * theta**2))

    theta = np.zeros(d + 1)
    L = objective(theta)
    for _ in range(max_iter):
        s = A @ theta
        sigma = special.expit(s)
        gradient = A.T @ (sigma - y) / m + penalty * theta
        converged = np.max(np.abs(gradient)) < tol
        H = (A.T * (sigma * (1.0 - sigma))) @ A / m + np.diag(penalty)
        try:
            step = np.linalg.solve(H, -gradient)
        except np.linalg.LinAlgError:
            raise ValueError(_SINGULAR) from None
        decrease = float(gradient @ step)  # minus the squared Newton decrement
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
    return theta[:d], float(theta[d])


def classifier_two_sample_test(
    x: np.ndarray,
    y: np.ndarray,
    *,
    test_fraction: float = 0.5,
    weight_decay: float = 1e-2,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> C2STResult:
    r"""Classifier two-sample test (C2ST) with logistic regression: can a classifier tell x from y?

    A logistic regression estimates the log-odds :math:`\log P(x \mid \text{label } 1) / P(x \mid
    \text{label } 0)` (the slide writes the ratio upside down inside sigma; the fitted logit is the
    log-odds of label 1). Under H0: P = Q no classifier beats chance on held-out data, so the held-out
    accuracy is the test statistic:

    .. math::

        \hat t = \frac1{n_{te}} \sum_{i \in te} \bigl[\, [w^\top x_i + b > 0] = \ell_i \,\bigr],
        \qquad
        p = \Pr\bigl(\operatorname{Binom}(n_{te}, p_0) \ge n_{te} \hat t\bigr),

    with :math:`(w, b) = \arg\min \frac1m \sum_{i \in tr} [\operatorname{softplus}(s_i) - \ell_i s_i]
    + \frac{\lambda}2 \lVert w \rVert^2`, :math:`s_i = w^\top x_i + b` (bias unpenalised), fitted by
    damped Newton / IRLS from zero until max |gradient| < ``tol`` (that iteration still takes its step)
    or ``max_iter`` iterations.
    Features are used as given (no standardisation), so ``weight_decay`` acts on their scale.

    Split: x is permuted by ``argsort(noise[:n_x])`` (stable) and y by ``argsort(noise[n_x:])``; the
    first ``round(test_fraction * n_x)`` and ``round(test_fraction * n_y)`` (Python rounding, half to
    even) of each are held out, the rest train. The p-value is the exact binomial tail with
    :math:`p_0` the larger class fraction of the test set (1/2 when balanced): under H0 the fitted
    classifier is independent of the held-out points, whose labels are then uninformative, so no
    classifier can have a per-point success probability above :math:`p_0`; for unbalanced test
    sets this makes the test conservative.

    Parameters
    ----------
    x : (n_x, d) array_like
        Samples from P (label 1), finite.
    y : (n_y, d) array_like
        Samples from Q (label 0), finite, same d.
    test_fraction : float
        Fraction of each set held out, in (0, 1); each set must keep at least one point on each side.
    weight_decay : float
        L2 penalty lambda > 0 on w (makes the problem strictly convex, also for separable data).
    noise : (n_x + n_y,) array_like, optional
        Uniforms in [0, 1] that define the split. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``noise = rng.random(n_x + n_y)``.
    max_iter : int
        Newton iteration limit (> 0).
    tol : float
        Stop when the objective's gradient has max-abs below it (> 0).

    Returns
    -------
    C2STResult
        ``(accuracy, p_value, n_test, weights (d,), bias)``.

    Raises
    ------
    ValueError
        Naming ``x`` or ``y`` where a feature's sum of squares over that set overflows float64 (|x|
        about 1e154 and above: the Hessian of the fit cannot be formed), and naming ``x, y`` where the
        Newton system is singular or not finite (every training logit saturated, as with one feature
        many orders of magnitude above the others and 1 / sqrt(weight_decay)).

    Notes
    -----
    The Newton system is solved as it is, without a regularising term beyond ``weight_decay``: where
    rounding makes it singular (the weight sigma (1 - sigma) of every training point exactly 0) or
    not finite, the fit is refused rather than returned as NaN or zero weights with a chance accuracy.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'Two-Sample Tests' and the log-odds slide after them;
    Lopez-Paz, Oquab, Revisiting Classifier Two-Sample Tests, ICLR 2017.

    Examples
    --------
    Two sets that a threshold at 0 separates: every held-out point is right, so the p-value is
    P(Binom(4, 1/2) >= 4) = 1/16 (closed form):

    >>> x = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> result = classifier_two_sample_test(x, -x, noise=np.linspace(0.0, 1.0, 8))
    >>> float(result.accuracy), float(result.p_value), result.n_test
    (1.0, 0.0625, 4)
    """
    x, y = _check_two_samples(x, y)
    n_x, n_y = len(x), len(y)
    m_x, m_y, weight_decay, max_iter, tol = G.two_sample_settings(n_x, n_y, test_fraction, weight_decay, max_iter, tol)
    u = _check_split(noise, rng, x, y)
    _check_feature_scale(x, y)

    x = x[np.argsort(u[:n_x], kind="stable")]
    y = y[np.argsort(u[n_x:], kind="stable")]
    X_test = np.concatenate([x[:m_x], y[:m_y]])
    label_test = np.concatenate([np.ones(m_x), np.zeros(m_y)])
    X_train = np.concatenate([x[m_x:], y[m_y:]])
    label_train = np.concatenate([np.ones(n_x - m_x), np.zeros(n_y - m_y)])

    w, b = _logistic_newton(X_train, label_train, weight_decay, max_iter, tol)
    predicted = (X_test @ w + b > 0).astype(np.float64)
    n_test = m_x + m_y
    correct = int(np.sum(predicted == label_test))
    p0 = max(m_x, m_y) / n_test
    p_value = float(stats.binom.sf(correct - 1, n_test, p0))
    return C2STResult(correct / n_test, p_value, n_test, w, b)


_SAMPLES_TEXT = "(..., n) with n >= 2 along the last axis (the batch axes broadcast)"


def _check_one_d_samples(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Two finite sample arrays (..., n), (..., m), n, m >= 2, whose batch axes broadcast, as float64."""
    x = C.as_float64("x", x)
    y = C.as_float64("y", y)
    for name, a in (("x", x), ("y", y)):
        if a.ndim < 1 or a.shape[-1] < 2:
            raise ValueError(f"{name}: expected samples of shape {_SAMPLES_TEXT}, got shape {a.shape}")
    C.check_finite("x", x)
    C.check_finite("y", y)
    C.broadcast_batch(("x", "y"), (x.shape[:-1], y.shape[:-1]))
    return x, y


def _mean_var(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and unbiased variance along the last axis (two passes)."""
    mean = np.mean(a, axis=-1)
    return mean, np.sum((a - mean[..., None]) ** 2, axis=-1) / (a.shape[-1] - 1)


def mean_difference_test(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Welch's two-sample t test of equal means: the statistic and its two-sided p-value.

    .. math::

        T = \frac{\bar x - \bar y}{\sqrt{s_x^2 / n + s_y^2 / m}}, \qquad
        \nu = \frac{(s_x^2/n + s_y^2/m)^2}{\frac{(s_x^2/n)^2}{n - 1} + \frac{(s_y^2/m)^2}{m - 1}}, \qquad
        p = 2\, \Pr(t_\nu > |T|),

    with s^2 the unbiased sample variances. Under H0 (equal means; Gaussian samples) T is approximately
    Student t with the Welch-Satterthwaite degrees of freedom nu (exactly t when the variances and the
    sizes are equal); reject H0 for a small p.

    Parameters
    ----------
    x : (..., n) array_like
        Samples of P along the last axis, finite, n >= 2.
    y : (..., m) array_like
        Samples of Q along the last axis, finite, m >= 2; batch axes broadcast with x's.

    Returns
    -------
    statistic, p_value : (...) ndarray
        T and the two-sided p-value (scipy.stats.t).

    Notes
    -----
    Samples with zero variance on both sides (T = 0/0 or c/0) are refused with a ``ValueError`` naming
    x, y; a statistic that overflows float64 is refused, never returned as ±inf or NaN.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Two-Sample Tests' ("difference in means"); Welch, The
    generalization of Student's problem when several different population variances are involved,
    Biometrika 34, 1947.

    Examples
    --------
    x = (0, 2), y = (1, 3): equal variances 2, T = (1 - 2) / sqrt(2/2 + 2/2) = -1/sqrt(2), nu = 2,
    p = 2 P(t_2 > 0.7071) = 1 - 0.7071 / sqrt(2.5) = 0.5528 (closed form of the t_2 tail):

    >>> t, p = mean_difference_test(np.array([0.0, 2.0]), np.array([1.0, 3.0]))
    >>> round(float(t), 6), round(float(p), 4)
    (-0.707107, 0.5528)
    """
    x, y = _check_one_d_samples(x, y)
    n, m = x.shape[-1], y.shape[-1]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mx, vx = _mean_var(x)
        my, vy = _mean_var(y)
        a, b = vx / n, vy / m
        if np.any(a + b == 0):
            raise ValueError("x, y: expected samples with positive variance on at least one side, got both constant")
        t = (mx - my) / np.sqrt(a + b)
        nu = (a + b) ** 2 / (a**2 / (n - 1) + b**2 / (m - 1))
    C.check_result(t, (("x", x), ("y", y)))
    C.check_result(nu, (("x", x), ("y", y)))
    return t, np.asarray(2.0 * stats.t.sf(np.abs(t), nu))


def variance_ratio_test(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The F test of equal variances: the ratio s_x^2 / s_y^2 and its two-sided p-value.

    .. math::

        F = \frac{s_x^2}{s_y^2}, \qquad F \sim F_{n-1,\, m-1} \text{ under } H_0, \qquad
        p = 2 \min\bigl(\Pr(F_{n-1, m-1} \le F),\, \Pr(F_{n-1, m-1} \ge F)\bigr),

    with s^2 the unbiased sample variances (exact for Gaussian samples; sensitive to non-normality).

    Parameters
    ----------
    x : (..., n) array_like
        Samples of P along the last axis, finite, n >= 2.
    y : (..., m) array_like
        Samples of Q along the last axis, finite, m >= 2; batch axes broadcast with x's.

    Returns
    -------
    statistic, p_value : (...) ndarray
        F and the two-sided p-value (scipy.stats.f), at most 1.

    Notes
    -----
    A constant y (s_y^2 = 0) is refused with a ``ValueError`` naming y; a ratio that overflows float64
    is refused, never returned as inf.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Two-Sample Tests' ("variances of the two sets of samples");
    Snedecor and Cochran, Statistical Methods, 1989, Section 6.9.

    Examples
    --------
    Equal sample variances give F = 1, the median of F_{n-1, n-1}, so p = 1 (closed form):

    >>> F, p = variance_ratio_test(np.array([0.0, 1.0, 2.0]), np.array([5.0, 6.0, 7.0]))
    >>> float(F), round(float(p), 12)
    (1.0, 1.0)
    """
    x, y = _check_one_d_samples(x, y)
    n, m = x.shape[-1], y.shape[-1]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _, vx = _mean_var(x)
        _, vy = _mean_var(y)
        if np.any(vy == 0):
            raise ValueError("y: expected samples with positive variance (the denominator of F), got a constant y")
        F = vx / vy
    C.check_result(F, (("x", x), ("y", y)))
    p = 2.0 * np.minimum(stats.f.cdf(F, n - 1, m - 1), stats.f.sf(F, n - 1, m - 1))
    return F, np.asarray(np.minimum(p, 1.0))
