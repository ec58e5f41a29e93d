r"""Guidance: the classifier-guided mean and eps, and classifier-free guidance.

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 14, 'Classifier guidance', 'Guided sampling' and 'Classifier-free guidance'.
"""

from __future__ import annotations

import numpy as np

import reference._args as A

from ._inputs import _at, _check_data, _check_guided_mean, _check_pair, _check_same
from .schedules import Schedule

__all__ = ["classifier_free_guidance", "classifier_guided_eps", "classifier_guided_mean"]


def classifier_guided_mean(mean: np.ndarray, variance: np.ndarray, grad_log_py: np.ndarray, scale: float):
    r"""Classifier guidance as a mean shift: mu + gamma sigma^2 grad log p(y | x) at x = mu.

    .. math::

        \hat\mu = \mu + \gamma\, \sigma^2\, g, \qquad g = \nabla_{x_{t-1}} \log p(y \mid x_{t-1}, \phi)
        \big|_{x_{t-1} = \mu}.

    Tilting N(mu, sigma^2 I) by exp(gamma g^T x) gives N(mu + gamma sigma^2 g, sigma^2 I) exactly (complete
    the square). The L14 slide 'Classifier guidance' writes sigma (.) g: a typo, the square completes with
    sigma^2 g, which its 'Guided sampling' algorithm (mu + beta_tilde g) uses. gamma = ``scale`` is the
    gradient scale s of Dhariwal & Nichol (gamma = 1 is the slide's unscaled shift).

    Parameters
    ----------
    mean, grad_log_py : (n, ...) array_like
        mu_theta(x_t, t) and the classifier gradient at it, one shape.
    variance : array_like
        sigma^2 (e.g. beta_tilde_t of shape (n, 1, ..., 1)), >= 0, broadcast against ``mean``.
    scale : float
        gamma.

    Returns
    -------
    (n, ...) ndarray
        The guided mean; the variance is unchanged.

    Notes
    -----
    The shift is the first-order Taylor step of the slide: log p(y | x) linearised at mu errs by
    1/2 tr(H Sigma) = O(||Sigma||), and the guided mean then differs from the exact tilted mean
    E[x | y] by O(||Sigma||^2) (Stein's identity; theorem row "Classifier guidance: the first-order Taylor
    step ..."). The slide's exercise writes "Check that grad_{x_t} Z != 0" for the normaliser of
    p(y | x_t)^gamma p(x_t) / Z: a typo, the correct statement is grad_{x_t} Z = 0, because Z integrates
    x_t out (as the normaliser const(x_{t-1}) of this step integrates x_{t-1} out), which is why the
    guided score is gamma grad log p(y | x) + grad log p(x) with no grad log Z term.

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance' and 'Guided sampling' (step 4);
    Dhariwal, Nichol, Diffusion Models Beat GANs on Image Synthesis, NeurIPS 2021, Algorithm 1.

    Examples
    --------
    mu + gamma sigma^2 g = 1 + 3 * 0.5 * 2 (the slide's shift):

    >>> classifier_guided_mean(np.array([[1.0]]), np.array([[0.5]]), np.array([[2.0]]), 3.0).item()
    4.0
    """
    mu, sigma2, g, gamma = _check_guided_mean(mean, variance, grad_log_py, scale)
    step = gamma * sigma2  # the gradient step s Sigma of Dhariwal & Nichol's Algorithm 1
    shift = step * g  # the mean of N(mu, sigma^2 I) exp(gamma g^T x), completing the square
    return mu + shift


def classifier_guided_eps(eps: np.ndarray, grad_log_py: np.ndarray, t: np.ndarray, schedule: Schedule, scale: float):
    r"""Classifier guidance on the noise: eps_hat = eps - gamma sqrt(1 - alpha_bar_t) grad log p(y | x_t).

    .. math::

        \hat\epsilon_\theta(x_t, t) = \epsilon_\theta(x_t, t) - \gamma \sqrt{1 - \bar\alpha_t}\,
        \nabla_{x_t} \log p(y \mid x_t, \phi),

    so that -eps_hat / sqrt(1 - alpha_bar) = gamma grad log p(y | x_t) + grad log p(x_t), the score of
    p(y | x_t)^gamma p(x_t) / Z; gamma = 1 gives the conditional score grad log p(x_t | y). Z integrates
    x_t out, so its gradient is 0 (the slide's "check that grad Z ..." exercise).

    Parameters
    ----------
    eps, grad_log_py : (n, ...) array_like
        Unconditional noise prediction and classifier gradient at x_t, one shape.
    t : () or (n,) int array_like
    schedule : Schedule
    scale : float
        gamma.

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance' (corrected eps, guided sampling step 2);
    Dhariwal, Nichol, NeurIPS 2021, Algorithm 2 and eq. (14).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): eps - gamma sqrt(1 - 0.36) g = 1 - 0.8 at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> classifier_guided_eps(np.array([[1.0]]), np.array([[1.0]]), np.array([2]), S, 1.0).item()
    0.2
    """
    eps, grad, t, schedule = _check_pair(("eps", "grad_log_py"), eps, grad_log_py, t, schedule)
    gamma = A.real("scale", scale)
    return eps - gamma * _at(schedule, "sqrt_one_minus_alpha_bars", t, eps) * grad


def classifier_free_guidance(eps_cond: np.ndarray, eps_uncond: np.ndarray, scale: float) -> np.ndarray:
    r"""Classifier-free guidance: eps_hat = gamma eps(x_t, y) + (1 - gamma) eps(x_t).

    .. math::

        \hat\epsilon_\theta(x_t, t) = \gamma\, \epsilon_\theta(x_t, y, t) + (1 - \gamma)\, \epsilon_\theta(x_t, t).

    Convention: gamma (``scale``) is the ``guidance_scale`` of the common pipelines (diffusers), where
    gamma = 1 is plain conditional sampling and gamma = 0 unconditional. Ho & Salimans write
    (1 + w) eps(x_t, y) - w eps(x_t): gamma = 1 + w, so their w = 0 is gamma = 1. Evaluated in the slide's
    form, so gamma = 1 returns ``eps_cond`` exactly. Through Bayes' rule this equals classifier guidance
    (:func:`classifier_guided_eps`) with the implicit classifier p(y | x_t) ∝ p(x_t | y) / p(x_t).

    Parameters
    ----------
    eps_cond, eps_uncond : (n, ...) array_like
        Conditional and unconditional noise predictions, one shape.
    scale : float
        gamma.

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier-free guidance'; Ho, Salimans, Classifier-Free Diffusion
    Guidance, NeurIPS 2021 Workshop (arXiv:2207.12598), eq. (6).

    Examples
    --------
    gamma eps(x, y) + (1 - gamma) eps(x) = 3 * 1 + (1 - 3) * 0:

    >>> classifier_free_guidance(np.array([[1.0]]), np.array([[0.0]]), 3.0).item()
    3.0
    """
    eps_cond, eps_uncond = _check_data("eps_cond", eps_cond), _check_data("eps_uncond", eps_uncond)
    _check_same(("eps_cond", "eps_uncond"), (eps_cond, eps_uncond))
    gamma = A.real("scale", scale)
    return gamma * eps_cond + (1.0 - gamma) * eps_uncond
