r"""Conversions between the eps, x_0, v and score parametrisations, and the eps-parametrised mean.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'Reparametrization' (mu_theta from eps_theta) and 'DDPM vs NCSN'
(grad log q(x_t | x_0) = -eps / sqrt(1 - alpha_bar_t)); v-prediction from Salimans & Ho (2022).
"""

from __future__ import annotations

import torch

from ._inputs import _at, _check_pair, _check_single, _checked
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


def predict_x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t).

    .. math::

        \hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon}{\sqrt{\bar\alpha_t}}.

    Parameters
    ----------
    x_t, eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (15).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): x_t = 0.6 * 1 + 0.8 * 0.5 = 1 at position 2, so x_0 =
    1:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> predict_x0_from_eps(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([2]), S
    ... ).item()
    1.0
    """
    x_t, eps, t, schedule = _check_pair(("x_t", "eps"), x_t, eps, t, schedule)
    sqrt_one_minus_alpha_bar = _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t)
    x0 = (x_t - sqrt_one_minus_alpha_bar * eps) / _at(schedule, "sqrt_alpha_bars", t, x_t)
    return _checked(x0, (("x_t", x_t), ("eps", eps)))


def predict_eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t).

    .. math::

        \epsilon = \frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    x_t, x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): x_t = 0.6 * 1 + 0.8 * 0.5 = 1 at position 2, so eps =
    0.5:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> predict_eps_from_x0(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([2]), S
    ... ).item()
    0.5
    """
    x_t, x0, t, schedule = _check_pair(("x_t", "x0"), x_t, x0, t, schedule)
    sqrt_alpha_bar = _at(schedule, "sqrt_alpha_bars", t, x_t)
    eps = (x_t - sqrt_alpha_bar * x0) / _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t)
    return _checked(eps, (("x_t", x_t), ("x0", x0)))


def velocity(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""The v target of Salimans & Ho: v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0.

    .. math::

        v_t = \sqrt{\bar\alpha_t}\, \epsilon - \sqrt{1 - \bar\alpha_t}\, x_0.

    Parameters
    ----------
    x0, eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Salimans, Ho, Progressive Distillation for Fast Sampling of Diffusion Models, ICLR 2022, Section 4.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): v = 0.6 * 0.5 - 0.8 * 1 at position 2 for x_0 = 1,
    eps = 0.5:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> velocity(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([2]), S
    ... ).item()
    -0.5
    """
    x0, eps, t, schedule = _check_pair(("x0", "eps"), x0, eps, t, schedule)
    v = _at(schedule, "sqrt_alpha_bars", t, x0) * eps - _at(schedule, "sqrt_one_minus_alpha_bars", t, x0) * x0
    return _checked(v, (("x0", x0), ("eps", eps)))


def predict_x0_from_v(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""x_0 = sqrt(alpha_bar_t) x_t - sqrt(1 - alpha_bar_t) v.

    .. math::

        \hat x_0 = \sqrt{\bar\alpha_t}\, x_t - \sqrt{1 - \bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): x_0 = 0.6 * 1 - 0.8 * (-0.5) = 1 at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> predict_x0_from_v(
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([[-0.5]], dtype=torch.float64),
    ...     torch.tensor([2]),
    ...     S,
    ... ).item()
    1.0
    """
    x_t, v, t, schedule = _check_pair(("x_t", "v"), x_t, v, t, schedule)
    x0 = _at(schedule, "sqrt_alpha_bars", t, x_t) * x_t - _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t) * v
    return _checked(x0, (("x_t", x_t), ("v", v)))


def predict_eps_from_v(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""eps = sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v.

    .. math::

        \hat\epsilon = \sqrt{1 - \bar\alpha_t}\, x_t + \sqrt{\bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): eps = 0.8 * 1 + 0.6 * (-0.5) = 0.5 at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> predict_eps_from_v(
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([[-0.5]], dtype=torch.float64),
    ...     torch.tensor([2]),
    ...     S,
    ... ).item()
    0.5
    """
    x_t, v, t, schedule = _check_pair(("x_t", "v"), x_t, v, t, schedule)
    eps = _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t) * x_t + _at(schedule, "sqrt_alpha_bars", t, x_t) * v
    return _checked(eps, (("x_t", x_t), ("v", v)))


def eps_to_score(eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Score from noise prediction, s = -eps / sqrt(1 - alpha_bar_t) (L14 reparametrisation).

    .. math::

        s_\theta(x_t, t) = -\frac{\epsilon_\theta(x_t, t)}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Lecture 14, recap 'DDPM objective'.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): s = -0.8 / sqrt(1 - 0.36) at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> eps_to_score(torch.tensor([[0.8]], dtype=torch.float64), torch.tensor([2]), S).item()
    -1.0
    """
    eps, t, schedule = _check_single("eps", eps, t, schedule)
    return _checked(-eps / _at(schedule, "sqrt_one_minus_alpha_bars", t, eps), (("eps", eps),))


def score_to_eps(score: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Noise prediction from a score, eps = -sqrt(1 - alpha_bar_t) s.

    .. math::

        \epsilon_\theta(x_t, t) = -\sqrt{1 - \bar\alpha_t}\, s_\theta(x_t, t).

    Parameters
    ----------
    score : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 14, recap 'DDPM objective'.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): eps = -sqrt(1 - 0.36) * (-1) at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> score_to_eps(torch.tensor([[-1.0]], dtype=torch.float64), torch.tensor([2]), S).item()
    0.8
    """
    score, t, schedule = _check_single("score", score, t, schedule)
    return _checked(-_at(schedule, "sqrt_one_minus_alpha_bars", t, score) * score, (("score", score),))


def q_score(x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""grad_{x_t} log q(x_t | x_0) = -(x_t - sqrt(alpha_bar_t) x_0) / (1 - alpha_bar_t).

    .. math::

        \nabla_{x_t} \log q(x_t \mid x_0) = -\frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{1 - \bar\alpha_t}.

    Parameters
    ----------
    x_t, x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Vincent, Neural Computation 2011.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): -(1 - 0.6 * 1) / 0.64 at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> q_score(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([2]), S
    ... ).item()
    -0.625
    """
    x_t, x0, t, schedule = _check_pair(("x_t", "x0"), x_t, x0, t, schedule)
    sqrt_alpha_bar = _at(schedule, "sqrt_alpha_bars", t, x_t)
    score = -(x_t - sqrt_alpha_bar * x0) / _at(schedule, "one_minus_alpha_bars", t, x_t)
    return _checked(score, (("x_t", x_t), ("x0", x0)))


def _p_mean(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    k = _at(schedule, "eps_coef", t, x_t)  # (1 - alpha_t) / sqrt(1 - alpha_bar_t), formed in float64
    return (x_t - k * eps) / _at(schedule, "sqrt_alphas", t, x_t)


def p_mean_from_eps(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Reverse-step mean mu_theta = (x_t - (1 - alpha_t) / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t).

    .. math::

        \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{1 - \alpha_t}{\sqrt{1 - \bar\alpha_t}}
        \epsilon_\theta(x_t, t)\Bigr).

    Parameters
    ----------
    x_t, eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization' and 'Sampling'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (11).

    Examples
    --------
    With eps = 0 the mean is x_t / sqrt(alpha_1) = 0.9 / sqrt(0.9):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> p_mean_from_eps(
    ...     torch.tensor([[0.9]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64), torch.tensor([0]), S
    ... ).item()
    0.9487
    """
    x_t, eps, t, schedule = _check_pair(("x_t", "eps"), x_t, eps, t, schedule)
    return _checked(_p_mean(x_t, eps, t, schedule), (("x_t", x_t), ("eps", eps)))
