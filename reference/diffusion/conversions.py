r"""Conversions between the eps, x_0, v and score parametrisations, and the eps-parametrised mean.

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'Reparametrization' (mu_theta from eps_theta) and 'DDPM vs NCSN'
(grad log q(x_t | x_0) = -eps / sqrt(1 - alpha_bar_t)); v-prediction from Salimans & Ho (2022).
"""

from __future__ import annotations

import numpy as np

from ._inputs import _at, _check_pair, _check_single
from .schedules import Schedule

__all__ = [
    "eps_to_score",
    "p_mean_from_eps",
    "predict_eps_from_v",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "predict_x0_from_v",
    "q_score",
    "score_to_eps",
    "velocity",
]


def predict_x0_from_eps(x_t: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""x_0 from x_t and the noise, inverting q_sample.

    .. math::

        \hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon}{\sqrt{\bar\alpha_t}}.

    With eps = E[eps | x_t] (an ideal eps model) this is Tweedie's E[x_0 | x_t]. The factor
    1 / sqrt(alpha_bar_t) reaches 158 at the end of the linear schedule (T = 1000) and 2e4 at the end of
    the clipped cosine schedule, which is why samplers clip x0.

    Parameters
    ----------
    x_t, eps : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (15).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): x_t = 0.6 * 1 + 0.8 * 0.5 = 1 at position 2, so x_0 =
    1:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> predict_x0_from_eps(np.array([[1.0]]), np.array([[0.5]]), np.array([2]), S).item()
    1.0
    """
    x_t, eps, t, schedule = _check_pair(("x_t", "eps"), x_t, eps, t, schedule)
    sqrt_alpha_bar = _at(schedule, "sqrt_alpha_bars", t, x_t)
    sqrt_one_minus_alpha_bar = _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t)
    return (x_t - sqrt_one_minus_alpha_bar * eps) / sqrt_alpha_bar


def predict_eps_from_x0(x_t: np.ndarray, x0: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The noise that takes x_0 to x_t, inverting q_sample.

    .. math::

        \epsilon = \frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    x_t, x0 : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): x_t = 0.6 * 1 + 0.8 * 0.5 = 1 at position 2, so eps =
    0.5:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> predict_eps_from_x0(np.array([[1.0]]), np.array([[1.0]]), np.array([2]), S).item()
    0.5
    """
    x_t, x0, t, schedule = _check_pair(("x_t", "x0"), x_t, x0, t, schedule)
    sqrt_alpha_bar = _at(schedule, "sqrt_alpha_bars", t, x_t)
    sqrt_one_minus_alpha_bar = _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t)
    return (x_t - sqrt_alpha_bar * x0) / sqrt_one_minus_alpha_bar


def velocity(x0: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The v-parametrisation target of Salimans & Ho: v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0.

    .. math::

        v_t = \sqrt{\bar\alpha_t}\, \epsilon - \sqrt{1 - \bar\alpha_t}\, x_0,

    the velocity d x_t / d phi of x_t = cos(phi) x_0 + sin(phi) eps with cos(phi) = sqrt(alpha_bar_t).
    Inverses: :func:`predict_x0_from_v`, :func:`predict_eps_from_v`. Every coefficient is at most 1 in
    absolute value, so no conversion through v amplifies rounding.

    Parameters
    ----------
    x0, eps : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Salimans, Ho, Progressive Distillation for Fast Sampling of Diffusion Models, ICLR 2022, Section 4
    and Appendix D. Beyond the slides.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): v = 0.6 * 0.5 - 0.8 * 1 at position 2 for x_0 = 1,
    eps = 0.5:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> velocity(np.array([[1.0]]), np.array([[0.5]]), np.array([2]), S).item()
    -0.5
    """
    x0, eps, t, schedule = _check_pair(("x0", "eps"), x0, eps, t, schedule)
    return _at(schedule, "sqrt_alpha_bars", t, x0) * eps - _at(schedule, "sqrt_one_minus_alpha_bars", t, x0) * x0


def predict_x0_from_v(x_t: np.ndarray, v: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""x_0 from x_t and v: x_0 = sqrt(alpha_bar) x_t - sqrt(1 - alpha_bar) v.

    .. math::

        \hat x_0 = \sqrt{\bar\alpha_t}\, x_t - \sqrt{1 - \bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4. Beyond the slides.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): x_0 = 0.6 * 1 - 0.8 * (-0.5) = 1 at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> predict_x0_from_v(np.array([[1.0]]), np.array([[-0.5]]), np.array([2]), S).item()
    1.0
    """
    x_t, v, t, schedule = _check_pair(("x_t", "v"), x_t, v, t, schedule)
    return _at(schedule, "sqrt_alpha_bars", t, x_t) * x_t - _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t) * v


def predict_eps_from_v(x_t: np.ndarray, v: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The noise from x_t and v: eps = sqrt(1 - alpha_bar) x_t + sqrt(alpha_bar) v.

    .. math::

        \hat\epsilon = \sqrt{1 - \bar\alpha_t}\, x_t + \sqrt{\bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4. Beyond the slides.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): eps = 0.8 * 1 + 0.6 * (-0.5) = 0.5 at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> predict_eps_from_v(np.array([[1.0]]), np.array([[-0.5]]), np.array([2]), S).item()
    0.5
    """
    x_t, v, t, schedule = _check_pair(("x_t", "v"), x_t, v, t, schedule)
    return _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t) * x_t + _at(schedule, "sqrt_alpha_bars", t, x_t) * v


def eps_to_score(eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""Score from noise prediction: s = -eps / sqrt(1 - alpha_bar_t) (the L14 reparametrisation).

    .. math::

        s_\theta(x_t, t) = -\frac{\epsilon_\theta(x_t, t)}{\sqrt{1 - \bar\alpha_t}}.

    With the true noise eps this is exactly grad_{x_t} log q(x_t | x_0) (:func:`q_score`).

    Parameters
    ----------
    eps : (n, ...) array_like
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Lecture 14, recap 'DDPM objective' and 'Classifier guidance';
    Song et al., Score-Based Generative Modeling through SDEs, ICLR 2021, Appendix B.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): s = -0.8 / sqrt(1 - 0.36) at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> eps_to_score(np.array([[0.8]]), np.array([2]), S).item()
    -1.0
    """
    eps, t, schedule = _check_single("eps", eps, t, schedule)
    return -eps / _at(schedule, "sqrt_one_minus_alpha_bars", t, eps)


def score_to_eps(score: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""Noise prediction from a score: eps = -sqrt(1 - alpha_bar_t) s, the inverse of :func:`eps_to_score`.

    .. math::

        \epsilon_\theta(x_t, t) = -\sqrt{1 - \bar\alpha_t}\, s_\theta(x_t, t).

    Parameters
    ----------
    score : (n, ...) array_like
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 14, recap 'DDPM objective'.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): eps = -sqrt(1 - 0.36) * (-1) at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> score_to_eps(np.array([[-1.0]]), np.array([2]), S).item()
    0.8
    """
    score, t, schedule = _check_single("score", score, t, schedule)
    return -_at(schedule, "sqrt_one_minus_alpha_bars", t, score) * score


def q_score(x_t: np.ndarray, x0: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The denoising score-matching target grad_{x_t} log q(x_t | x_0).

    .. math::

        \nabla_{x_t} \log q(x_t \mid x_0) = -\frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{1 - \bar\alpha_t}
        = -\frac{\epsilon}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    x_t, x0 : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Lecture 14, recap 'DDPM objective';
    Vincent, A Connection Between Score Matching and Denoising Autoencoders, Neural Computation 2011.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): -(1 - 0.6 * 1) / 0.64 at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> q_score(np.array([[1.0]]), np.array([[1.0]]), np.array([2]), S).item()
    -0.625
    """
    x_t, x0, t, schedule = _check_pair(("x_t", "x0"), x_t, x0, t, schedule)
    one_minus_alpha_bar = _at(schedule, "one_minus_alpha_bars", t, x_t)
    return -(x_t - _at(schedule, "sqrt_alpha_bars", t, x_t) * x0) / one_minus_alpha_bar


def p_mean_from_eps(x_t: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""Mean of the reverse step p(x_{t-1} | x_t) in the eps-parametrisation.

    .. math::

        \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{1 - \alpha_t}{\sqrt{1 - \bar\alpha_t}}
        \epsilon_\theta(x_t, t)\Bigr).

    With the true noise it equals the posterior mean mu_tilde_t(x_t, x_0) of :func:`q_posterior`.

    Parameters
    ----------
    x_t, eps : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization' and 'Sampling' (step 2);
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (11).

    Examples
    --------
    With eps = 0 the mean is x_t / sqrt(alpha_1) = 0.9 / sqrt(0.9):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> p_mean_from_eps(np.array([[0.9]]), np.array([[0.0]]), np.array([0]), S).item()
    0.9487
    """
    x_t, eps, t, schedule = _check_pair(("x_t", "eps"), x_t, eps, t, schedule)
    return _p_mean(x_t, eps, t, schedule)


def _p_mean(x_t: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    beta = _at(schedule, "betas", t, x_t)  # 1 - alpha_t, from the table (no cancellation)
    sqrt_one_minus_alpha_bar = _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t)
    return (x_t - beta / sqrt_one_minus_alpha_bar * eps) / np.sqrt(_at(schedule, "alphas", t, x_t))
