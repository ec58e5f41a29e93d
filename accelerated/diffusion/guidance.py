r"""Guidance: the classifier-guided mean and eps, and classifier-free guidance.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 14, 'Classifier guidance', 'Guided sampling' and 'Classifier-free guidance'.
"""

from __future__ import annotations

import torch

import reference._args as A

from ._inputs import _at, _check_data, _check_guided_mean, _check_pair, _check_same, _checked
from .schedules import Schedule

__all__ = ["classifier_free_guidance", "classifier_guided_eps", "classifier_guided_mean"]


def classifier_guided_mean(mean: torch.Tensor, variance: torch.Tensor, grad_log_py: torch.Tensor, scale: float):
    r"""Classifier guidance as a mean shift mu + gamma sigma^2 g (L14; the slide's sigma (.) g is a typo).

    .. math::

        \hat\mu = \mu + \gamma\, \sigma^2\, \nabla_{x_{t-1}} \log p(y \mid x_{t-1}) \big|_{x_{t-1} = \mu}.

    Parameters
    ----------
    mean, grad_log_py : (n, ...) Tensor
    variance : Tensor
        >= 0, broadcast against ``mean``.
    scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor

    Notes
    -----
    As :func:`reference.diffusion.classifier_guided_mean`: the first-order Taylor step errs by
    O(||Sigma||^2) in the mean (O(||Sigma||) in the linearised log p(y | x)). The slide's "Check that
    grad_{x_t} Z != 0" is a typo: grad_{x_t} Z = 0, because Z integrates x_t out, so the guided score has
    no grad log Z term.

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance'; Dhariwal, Nichol, NeurIPS 2021, Algorithm 1.

    Examples
    --------
    mu + gamma sigma^2 g = 1 + 3 * 0.5 * 2 (the slide's shift):

    >>> classifier_guided_mean(
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([[0.5]], dtype=torch.float64),
    ...     torch.tensor([[2.0]], dtype=torch.float64),
    ...     3.0,
    ... ).item()
    4.0
    """
    mu, sigma2, g, gamma = _check_guided_mean(mean, variance, grad_log_py, scale)
    step = gamma * sigma2
    return mu + step * g


def classifier_guided_eps(
    eps: torch.Tensor, grad_log_py: torch.Tensor, t: torch.Tensor, schedule: Schedule, scale: float
) -> torch.Tensor:
    r"""Classifier guidance on the noise: eps_hat = eps - gamma sqrt(1 - alpha_bar_t) grad log p(y | x_t).

    .. math::

        \hat\epsilon_\theta = \epsilon_\theta - \gamma \sqrt{1 - \bar\alpha_t}\, \nabla_{x_t} \log p(y \mid x_t).

    Parameters
    ----------
    eps, grad_log_py : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance'; Dhariwal, Nichol, NeurIPS 2021, Algorithm 2.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): eps - gamma sqrt(1 - 0.36) g = 1 - 0.8 at position 2:

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> classifier_guided_eps(
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([2]),
    ...     S,
    ...     1.0,
    ... ).item()
    0.2
    """
    eps, grad, t, schedule = _check_pair(("eps", "grad_log_py"), eps, grad_log_py, t, schedule)
    gamma = A.real("scale", scale)
    guided = eps - gamma * _at(schedule, "sqrt_one_minus_alpha_bars", t, eps) * grad
    return _checked(guided, (("eps", eps), ("grad_log_py", grad)))


def classifier_free_guidance(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    r"""Classifier-free guidance eps_hat = gamma eps(x_t, y) + (1 - gamma) eps(x_t).

    .. math::

        \hat\epsilon_\theta = \gamma\, \epsilon_\theta(x_t, y, t) + (1 - \gamma)\, \epsilon_\theta(x_t, t).

    gamma (``scale``) is the ``guidance_scale`` of the common pipelines; Ho & Salimans' w is gamma - 1
    (their (1 + w) eps(x_t, y) - w eps(x_t)). Slide form: gamma = 1 returns ``eps_cond`` exactly.

    Parameters
    ----------
    eps_cond, eps_uncond : (n, ...) Tensor
    scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier-free guidance'; Ho, Salimans, arXiv:2207.12598, eq. (6).

    Examples
    --------
    gamma eps(x, y) + (1 - gamma) eps(x) = 3 * 1 + (1 - 3) * 0:

    >>> classifier_free_guidance(
    ...     torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64), 3.0
    ... ).item()
    3.0
    """
    eps_cond, eps_uncond = _check_data("eps_cond", eps_cond), _check_data("eps_uncond", eps_uncond)
    _check_same(("eps_cond", "eps_uncond"), (eps_cond, eps_uncond))
    gamma = A.real("scale", scale)
    guided = gamma * eps_cond + (1.0 - gamma) * eps_uncond
    return _checked(guided, (("eps_cond", eps_cond), ("eps_uncond", eps_uncond)))
