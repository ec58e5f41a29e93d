r"""Guidance: the classifier-guided mean and eps, and classifier-free guidance.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 14, 'Classifier guidance', 'Guided sampling' and 'Classifier-free guidance'.
"""

from __future__ import annotations

import torch

from .. import _checks as C
from .schedules import Schedule, _check_values, _checked, _coef, _data, _pair, _same


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

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance'; Dhariwal, Nichol, NeurIPS 2021, Algorithm 1.
    """
    mean, grad = _data("mean", mean), _data("grad_log_py", grad_log_py)
    variance = _data("variance", variance)
    _same(("mean", "grad_log_py"), (mean, grad))
    C.check_same_device_dtype(("mean", "variance"), (mean, variance))
    if tuple(C.broadcast_batch(("mean", "variance"), (mean.shape, variance.shape))) != tuple(mean.shape):
        raise ValueError(
            f"variance: expected a shape that broadcasts to mean's {tuple(mean.shape)}, got {tuple(variance.shape)}"
        )
    gamma = C.check_real_scalar("scale", scale)
    if C.value_checks_active():
        negative = (
            ((variance >= 0).all(), lambda: f"variance: expected variances >= 0, got min {float(variance.min())!r}"),
        )
        data = (("mean", mean), ("variance", variance), ("grad_log_py", grad))
        _check_values(None, 0, data, extra=negative)
    return mean + gamma * variance * grad


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
    """
    eps, grad, t, schedule = _pair(("eps", "grad_log_py"), eps, grad_log_py, t, schedule)
    gamma = C.check_real_scalar("scale", scale)
    guided = eps - gamma * _coef(schedule, "sqrt_one_minus_alpha_bars", t, eps) * grad
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
    """
    eps_cond, eps_uncond = _data("eps_cond", eps_cond), _data("eps_uncond", eps_uncond)
    _same(("eps_cond", "eps_uncond"), (eps_cond, eps_uncond))
    gamma = C.check_real_scalar("scale", scale)
    guided = gamma * eps_cond + (1.0 - gamma) * eps_uncond
    return _checked(guided, (("eps_cond", eps_cond), ("eps_uncond", eps_uncond)))
