"""GAN formulas in PyTorch: value function, optimal discriminator, losses, WGAN, R1/R2, truncation, C2ST.

Same formulas, names and parameters as :mod:`reference.gan` (see it for the slides: Advanced Course
on DGM Lecture 8, 'Two-Sample Tests', 'Discriminator Training Objective', 'Generator Training
Objective', 'For an Optimal Discriminator'; Isachenko DGM Lecture 7, 'GAN optimality theorem',
'Main problems of standard GAN', 'WGAN objective', 'Truncation trick'; beyond the slides the hinge
loss of Lim and Ye 2017 / Miyato et al. 2018 and the R1 / R2 penalties of Mescheder et al. 2018).

Shapes: every per-sample GAN quantity (``d_real`` / ``d_fake``, the logits of the losses, the critic
values of :func:`wasserstein_critic_objective`) has shape ``(n,)`` or ``(n, 1)``: one value per sample
along the first axis, so the ``(n, 1)`` output of a final ``nn.Linear(h, 1)`` goes in as it is (it is
flattened with a view, not copied). The result is a 0-d tensor. The real and the generated set may
have different sizes n. Any other shape, a 0-d tensor, ``(n, 2)`` or leading batch axes, is refused
with a ``ValueError``: ``(n, 1)`` logits against ``(n,)`` labels would otherwise broadcast to an
``(n, n)`` loss. Critic and discriminator inputs ``x`` have shape ``(n, ...)``, any number of feature
axes; gradient norms are taken over all feature axes.

Mixed precision: the losses and penalties take float16 / bfloat16 inputs and run inside
``torch.autocast``. The two per-sample arguments may differ in dtype (autocast makes a discriminator's
logits bfloat16; a generator's samples may be bfloat16 while the data is float32): they are computed
in the promoted dtype, reductions accumulate in at least float32, and the result has
``accumulation_dtype`` of that dtype (float32 for half inputs, so that ``GradScaler`` cannot overflow
it). Results are differentiable with autograd. Other precision choices:

* ``wasserstein_critic_objective`` and the hinge ``generator_loss`` accumulate their means in float64
  (the difference of two nearly equal float32 means, or a mean of logits of both signs, loses the
  answer otherwise);
* ``truncated_normal`` evaluates the inverse normal CDF in float64 for every input dtype and casts
  the samples back: measured on float32 uniforms, the float32 evaluation is off by up to 1.3e-6
  (3 ulp at |z| = 4..8) and keeps no relative precision for |z| < 1e-7, the float64 one by half an
  ulp of the result (the final rounding); latents are small, so the cost does not matter;
* ``classifier_two_sample_test`` runs its Newton solve and returns all its results in float64, on
  the inputs' device, whatever their dtype; it reads the gradient norm on the host once per Newton
  iteration (it is an evaluation procedure, not a training step);
* ``clip_weights`` works *in place* on the given tensors (the reference returns copies).

Penalties (``gradient_penalty``, ``r1_penalty``, ``r2_penalty``) need the critic's input gradient. It is
taken at the *detached* samples (the penalty trains the critic, not the generator), with autograd
switched on inside even under ``torch.no_grad``, and with a graph to the critic's parameters
(``create_graph`` semantics: ``penalty.backward()`` trains them). Under ``torch.compile`` it is
``torch.func.vjp`` of the critic with cotangent ones, which dynamo traces without a graph break (the
same inside the caller's own ``torch.func`` transforms, e.g. ``torch.func.grad`` over the
parameters). In plain eager mode it is ``torch.autograd.grad(..., create_graph=True)``: the same
numbers and parameter gradients (tested against each other and an explicit double backward), 14-17%
less time per penalty forward and backward than an eager ``torch.func.vjp`` (measured on the CPU, a
3-layer MLP critic at batch 64), and it accepts critics that update buffers in the call (BatchNorm in
training mode), which ``torch.func`` refuses (such a critic cannot be compiled inside the penalty).
Under ``torch.no_grad`` the penalty's value is computed and returned without a graph, like any value
computed there; ``torch.inference_mode`` is not supported (autograd cannot record there).

Randomness: an ``rng=`` generator must be on the device of the data it is drawn for (one
``ValueError`` otherwise, never a draw elsewhere and a copy per step); a ``torch.Generator`` cannot
be traced by dynamo, so compiled code draws outside and passes ``noise=``.

Value checks (NaN, finite, in range) are device assertions without a host read (see
``accelerated._checks``); the losses check their 0-d result where that is equivalent (a
cross-entropy or hinge loss is NaN exactly when an input is) and name the offending argument on the
failure path, one assertion per call.

Logit-form losses use ``accelerated._numerics.softplus``: ``F.softplus`` with a dtype-aware threshold
(37 for float64, where the default 20 drops a 2e-9 that a float64 comparison sees), accurate to an ulp
for every input, +-inf included, with gradient sigmoid(x) everywhere.

One-sided names: none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
from torch import nn

from . import _checks as C
from ._numerics import softplus

__all__ = [
    "C2STResult",
    "TanhCritic",
    "classifier_two_sample_test",
    "clip_weights",
    "discriminator_loss",
    "gan_value",
    "generator_loss",
    "gradient_penalty",
    "gradient_penalty_from_gradients",
    "interpolate",
    "optimal_discriminator",
    "optimal_discriminator_logit",
    "r1_penalty",
    "r1_penalty_from_gradients",
    "r2_penalty",
    "truncate_latent",
    "truncated_normal",
    "wasserstein_critic_objective",
]

DISCRIMINATOR_LOSS_KINDS = ("cross_entropy", "hinge")
GENERATOR_LOSS_KINDS = ("minimax", "non_saturating", "hinge")

# Take critic input gradients with torch.func also in eager mode (the tests run that path eagerly).
_TORCH_FUNC_IN_EAGER = False

# C2ST Newton solve: squared Newton decrement below which the full step is taken (as in reference.gan).
_FULL_STEP_DECREMENT = 1e-10


def _per_sample(name: str, x: object) -> torch.Tensor:
    """Per-sample values of shape (n,) or (n, 1) with n >= 1, as a view of shape (n,)."""
    x = C.as_float_tensor(name, x)
    shape = x.shape
    if len(shape) == 2 and shape[1] == 1:
        x = x.squeeze(1)
    if x.ndim != 1 or shape[0] == 0:
        raise ValueError(
            f"{name}: expected shape (n,) or (n, 1), one value per sample along the first axis (n >= 1), "
            f"got shape {tuple(shape)}"
        )
    return x


def _per_sample_pair(names: tuple[str, str], a: object, b: object) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """Both per-sample arguments in their promoted dtype, and the dtype to accumulate and return in."""
    a = _per_sample(names[0], a)
    b = _per_sample(names[1], b)
    dtype = C.promoted_dtype(names, (a, b))
    return a.to(dtype), b.to(dtype), C.accumulation_dtype(dtype)


def _kind(kind: object, kinds: tuple[str, ...]) -> str:
    """A loss kind: a str among ``kinds`` (TypeError for a non-str, ValueError for an unknown one)."""
    if not isinstance(kind, str):
        raise TypeError(f"kind: expected a str, one of {kinds}, got {C.describe(kind)}")
    if kind not in kinds:
        raise ValueError(f"kind: expected one of {kinds}, got {kind!r}")
    return kind


def _nan_detail(names: tuple[str, ...], tensors: tuple[torch.Tensor, ...], fallback: str) -> Callable[[], str]:
    """Failure-path message: the first argument with NaN entries and their count, else ``fallback``."""

    def detail() -> str:
        for name, x in zip(names, tensors):
            count = int(torch.isnan(x.detach()).sum())
            if count:
                return f"{name}: expected no NaN, got {count} NaN entries"
        return fallback

    return detail


def _require_not_nan(result: torch.Tensor, names: tuple[str, ...], tensors: tuple[torch.Tensor, ...]) -> None:
    """One device assertion that a 0-d loss is not NaN, which for these losses means no input is NaN."""
    if C.value_checks_active():
        r = result.detach()
        message = f"{', '.join(names)}: expected no NaN"
        C.require(r == r, message, _nan_detail(names, tensors, message))


def _batch(name: str, x: object) -> torch.Tensor:
    """A floating tensor of shape (n, ...) with n >= 1 samples along the first axis."""
    x = C.as_float_tensor(name, x)
    C.check_ndim(name, x, 1)
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample along the first axis, got shape {tuple(x.shape)}")
    return x


# --------------------------------------------------------------------------- value and discriminator


def gan_value(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    r"""GAN value function V(G, D) from discriminator outputs (see :func:`reference.gan.gan_value`).

    .. math::

        V(G, D) \approx \frac1{n_r} \sum_i \log D(x_i) + \frac1{n_f} \sum_j \log\bigl(1 - D(\tilde x_j)\bigr).

    Parameters
    ----------
    d_real : (n_r,) or (n_r, 1) Tensor
        D(x) on real samples, in [0, 1].
    d_fake : (n_f,) or (n_f, 1) Tensor
        D(G(z)) on generated samples, in [0, 1]; same device, any floating dtype (promoted).

    Returns
    -------
    () Tensor
        V(G, D) <= 0; ``-inf`` where D = 0 on a real or D = 1 on a generated sample. Float32 for
        half inputs, else the promoted dtype.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., Generative Adversarial Networks, NeurIPS 2014, eq. (1).
    """
    d_real, d_fake, acc = _per_sample_pair(("d_real", "d_fake"), d_real, d_fake)
    C.check_in_interval("d_real", d_real, 0.0, 1.0)
    C.check_in_interval("d_fake", d_fake, 0.0, 1.0)
    return torch.log(d_real).mean(dtype=acc) + torch.log1p(-d_fake).mean(dtype=acc)


def _density(name: str, p: object) -> torch.Tensor:
    p = C.as_float_tensor(name, p)
    if p.numel() and C.value_checks_active():
        low, high = torch.aminmax(p.detach())

        def detail() -> str:
            bad = C.count_non_finite(p)
            if bad:
                return f"{name}: expected finite values, got {bad} NaN or infinite entries"
            return f"{name}: expected non-negative density values, got min {float(p.min())!r}"

        C.require((low >= 0) & (high < math.inf), f"{name}: expected finite non-negative density values", detail)
    return p


def optimal_discriminator(p_data: torch.Tensor, p_model: torch.Tensor) -> torch.Tensor:
    r"""Optimal discriminator D* = p_data / (p_data + p_G); 1/2 where both densities vanish.

    .. math::

        D^*_G(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_G(x)}.

    See :func:`reference.gan.optimal_discriminator` for why 1/2 off both supports.

    Parameters
    ----------
    p_data, p_model : (...) Tensor
        Density values, finite and non-negative, same dtype and device; broadcast. Their sum must
        not overflow the dtype.

    Returns
    -------
    (...) Tensor
        D*(x) in [0, 1].

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., NeurIPS 2014, Proposition 1.
    """
    p_data = _density("p_data", p_data)
    p_model = _density("p_model", p_model)
    C.check_same_device_dtype(("p_data", "p_model"), (p_data, p_model))
    C.broadcast_batch(("p_data", "p_model"), (p_data.shape, p_model.shape))
    total = p_data + p_model
    positive = total > 0
    D_star = p_data / torch.where(positive, total, torch.ones_like(total))
    return torch.where(positive, D_star, torch.full_like(D_star, 0.5))


def _log_density(name: str, log_p: object) -> torch.Tensor:
    log_p = C.as_float_tensor(name, log_p)
    if log_p.numel() and C.value_checks_active():
        high = log_p.detach().max()  # NaN propagates

        def detail() -> str:
            nan = int(torch.isnan(log_p.detach()).sum())
            if nan:
                return f"{name}: expected no NaN, got {nan} NaN entries"
            return f"{name}: expected log-densities < +inf (-inf allowed), got +inf"

        C.require(high < math.inf, f"{name}: expected log-densities < +inf (-inf allowed) and no NaN", detail)
    return log_p


def optimal_discriminator_logit(log_p_data: torch.Tensor, log_p_model: torch.Tensor) -> torch.Tensor:
    r"""Logit of the optimal discriminator, log p_data - log p_G; 0 where both densities vanish.

    .. math::

        \operatorname{logit} D^*_G(x) = \log p_{\text{data}}(x) - \log p_G(x).

    Parameters
    ----------
    log_p_data, log_p_model : (...) Tensor
        Log-densities; ``-inf`` allowed, ``+inf`` and NaN rejected; same dtype and device; broadcast.

    Returns
    -------
    (...) Tensor
        The log density ratio, possibly +-inf.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., NeurIPS 2014, Proposition 1.
    """
    log_p_data = _log_density("log_p_data", log_p_data)
    log_p_model = _log_density("log_p_model", log_p_model)
    C.check_same_device_dtype(("log_p_data", "log_p_model"), (log_p_data, log_p_model))
    C.broadcast_batch(("log_p_data", "log_p_model"), (log_p_data.shape, log_p_model.shape))
    both_zero = torch.isneginf(log_p_data) & torch.isneginf(log_p_model)
    logit = log_p_data - log_p_model
    return torch.where(both_zero, torch.zeros_like(logit), logit)


# --------------------------------------------------------------------------- losses in logit form


def discriminator_loss(
    logits_real: torch.Tensor, logits_fake: torch.Tensor, *, kind: str = "cross_entropy"
) -> torch.Tensor:
    r"""Discriminator loss from logits: the cross-entropy -V(G, D) (default) or the hinge loss.

    .. math::

        \text{cross\_entropy: } \frac1{n_r}\sum_i \operatorname{softplus}(-l_i)
                      + \frac1{n_f}\sum_j \operatorname{softplus}(\tilde l_j),
        \qquad
        \text{hinge: } \frac1{n_r}\sum_i \max(0, 1 - l_i) + \frac1{n_f}\sum_j \max(0, 1 + \tilde l_j).

    The cross-entropy equals ``binary_cross_entropy_with_logits`` with labels 1 on real and 0 on
    generated samples, averaged within each set and summed.

    Parameters
    ----------
    logits_real : (n_r,) or (n_r, 1) Tensor
        Logits on real samples; +-inf allowed, NaN rejected.
    logits_fake : (n_f,) or (n_f, 1) Tensor
        Logits on generated samples; same device, any floating dtype (promoted).
    kind : {'cross_entropy', 'hinge'}
        Which loss; the default is the slide's cross-entropy.

    Returns
    -------
    () Tensor
        The loss, >= 0; float32 for half inputs, else the promoted dtype.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., NeurIPS 2014, eq. (1); hinge: Lim and Ye, Geometric GAN, arXiv:1705.02894,
    2017; Miyato et al., Spectral Normalization for GANs, ICLR 2018, eq. (16) and (17).
    """
    kind = _kind(kind, DISCRIMINATOR_LOSS_KINDS)
    names = ("logits_real", "logits_fake")
    l_real, l_fake, acc = _per_sample_pair(names, logits_real, logits_fake)
    if kind == "hinge":
        loss = torch.relu(1.0 - l_real).mean(dtype=acc) + torch.relu(1.0 + l_fake).mean(dtype=acc)
    else:
        loss = softplus(-l_real).mean(dtype=acc) + softplus(l_fake).mean(dtype=acc)
    _require_not_nan(loss, names, (l_real, l_fake))  # sums of terms >= 0: NaN only from a NaN input
    return loss


def generator_loss(logits_fake: torch.Tensor, *, kind: str) -> torch.Tensor:
    r"""Generator loss from logits: ``kind='minimax'`` (saturating), ``'non_saturating'`` or ``'hinge'``.

    .. math::

        \text{minimax: } -\frac1n \sum_j \operatorname{softplus}(l_j) = \frac1n\sum_j \log(1 - D_j),
        \qquad
        \text{non\_saturating: } \frac1n \sum_j \operatorname{softplus}(-l_j) = -\frac1n\sum_j \log D_j,
        \qquad
        \text{hinge: } -\frac1n \sum_j l_j.

    The hinge mean is accumulated in float64 (logits of both signs cancel) and cast to the result dtype.

    Parameters
    ----------
    logits_fake : (n,) or (n, 1) Tensor
        Logits on generated samples; +-inf allowed, NaN rejected; for ``'hinge'`` not both +inf and
        -inf (their mean is undefined).
    kind : {'minimax', 'non_saturating', 'hinge'}
        Required; no default.

    Returns
    -------
    () Tensor
        The loss the generator minimises; float32 for half inputs, else the input dtype.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Generator Training Objective';
    Isachenko, DGM Lecture 7, recap slide 'Main problems of standard GAN';
    Goodfellow et al., NeurIPS 2014, Section 3; hinge: Lim and Ye, Geometric GAN, 2017; Miyato et al.,
    Spectral Normalization for GANs, ICLR 2018, eq. (16) and (17).
    """
    kind = _kind(kind, GENERATOR_LOSS_KINDS)
    l = _per_sample("logits_fake", logits_fake)
    acc = C.accumulation_dtype(l.dtype)
    if kind == "minimax":
        loss = -softplus(l).mean(dtype=acc)
    elif kind == "non_saturating":
        loss = softplus(-l).mean(dtype=acc)
    else:
        loss = (-l.mean(dtype=torch.float64)).to(acc)
        if C.value_checks_active():  # NaN from a NaN logit, or from +inf and -inf together
            r = loss.detach()
            fallback = "logits_fake: expected logits with a defined mean for kind='hinge', got both +inf and -inf"
            detail = _nan_detail(("logits_fake",), (l,), fallback)
            C.require(r == r, "logits_fake: expected no NaN and not both +inf and -inf", detail)
        return loss
    _require_not_nan(loss, ("logits_fake",), (l,))
    return loss


# --------------------------------------------------------------------------- Wasserstein GAN


def wasserstein_critic_objective(f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    r"""WGAN critic objective, mean f(real) - mean f(fake); the critic maximises it.

    .. math::

        \frac1{n_r}\sum_i f(x_i) - \frac1{n_f}\sum_j f(G(z_j)).

    Both means are accumulated in float64 and the difference is cast to the result dtype.

    Parameters
    ----------
    f_real : (n_r,) or (n_r, 1) Tensor
        Critic values on real samples, finite.
    f_fake : (n_f,) or (n_f, 1) Tensor
        Critic values on generated samples, finite; same device, any floating dtype (promoted).

    Returns
    -------
    () Tensor
        The objective; float32 for half inputs, else the promoted dtype.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'WGAN objective'; Arjovsky, Chintala, Bottou, Wasserstein GAN,
    ICML 2017, eq. (3).
    """
    names = ("f_real", "f_fake")
    f_real = _per_sample("f_real", f_real)
    f_fake = _per_sample("f_fake", f_fake)
    acc = C.accumulation_dtype(C.promoted_dtype(names, (f_real, f_fake)))
    objective = f_real.mean(dtype=torch.float64) - f_fake.mean(dtype=torch.float64)
    if C.value_checks_active():  # finite float64 means of float32 / half values: exactly when the inputs are
        detail = _finite_detail(names, (f_real, f_fake), f"{', '.join(names)}: expected finite means")
        C.require(torch.isfinite(objective.detach()), f"{', '.join(names)}: expected finite values", detail)
    return objective.to(acc)


def _finite_detail(names: tuple[str, ...], tensors: tuple[torch.Tensor, ...], fallback: str) -> Callable[[], str]:
    """Failure-path message: the first argument with non-finite entries and their count, else ``fallback``."""

    def detail() -> str:
        for name, x in zip(names, tensors):
            count = C.count_non_finite(x)
            if count:
                return f"{name}: expected finite values, got {count} NaN or infinite entries"
        return fallback

    return detail


def clip_weights(parameters: Iterable[torch.Tensor] | nn.Module | torch.Tensor, c: float) -> list[torch.Tensor]:
    r"""WGAN weight clipping *in place*: every parameter entry clamped to [-c, c].

    .. math::

        w \leftarrow \operatorname{clip}(w, -c, c).

    Works under ``torch.no_grad`` on the tensors themselves (as a training loop wants) with the
    fused ``torch._foreach_clamp_min_`` / ``_foreach_clamp_max_`` per (device, dtype) group, and
    returns the same tensor objects; ``reference.gan.clip_weights`` returns copies instead.

    Parameters
    ----------
    parameters : nn.Module, iterable of Tensor, or one Tensor
        The critic (its ``parameters()`` are clipped) or the tensors / ``nn.Parameter`` s to clip.
    c : float
        Clipping bound, finite and > 0.

    Returns
    -------
    list of Tensor
        The clipped tensors (the inputs, modified in place), in order.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'WGAN objective'; Arjovsky, Chintala, Bottou, Wasserstein GAN,
    ICML 2017, Algorithm 1.
    """
    c = C.check_positive_scalar("c", c)
    if isinstance(parameters, nn.Module):
        parameters = parameters.parameters()
    elif isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Iterable):
        raise TypeError(f"parameters: expected an nn.Module or tensors, got {C.describe(parameters)}")
    weights = [C.as_float_tensor(f"parameters[{i}]", w) for i, w in enumerate(parameters)]
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for w in weights:
        groups.setdefault((w.device, w.dtype), []).append(w)
    with torch.no_grad():
        for group in groups.values():
            if hasattr(torch, "_foreach_clamp_min_") and hasattr(torch, "_foreach_clamp_max_"):
                torch._foreach_clamp_min_(group, -c)
                torch._foreach_clamp_max_(group, c)
            else:  # pragma: no cover - older PyTorch
                for w in group:
                    w.clamp_(-c, c)
    return weights


def interpolate(x_real: torch.Tensor, x_fake: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    r"""WGAN-GP interpolates, one coefficient per sample broadcast over the feature axes.

    .. math::

        \hat x_i = u_i\, x_i + (1 - u_i)\, \tilde x_i,

    computed as ``torch.lerp(x_fake, x_real, u)`` (one fused operation, exact at u = 0 and u = 1).

    Parameters
    ----------
    x_real, x_fake : (n, ...) Tensor
        Real and generated samples, same shape and device, finite; any floating dtypes (the result is
        in their promoted dtype: a generator under autocast may give bfloat16 samples of float32 data).
    noise : (n,) Tensor
        The coefficients u_i in [0, 1], same device; cast to the samples' dtype (coefficients, not
        data: they take the data's precision, as drawn by ``gradient_penalty(rng=...)``).

    Returns
    -------
    (n, ...) Tensor
        The interpolates (differentiable in all three inputs).

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, Algorithm 1.
    """
    x_real = _batch("x_real", x_real)
    x_fake = C.as_float_tensor("x_fake", x_fake)
    u = C.as_float_tensor("noise", noise)
    C.check_same_device(("x_real", "x_fake", "noise"), (x_real, x_fake, u))
    C.check_shape("x_fake", x_fake, x_real.shape)
    C.check_shape("noise", u, x_real.shape[:1])
    C.check_finite("x_real", x_real)
    C.check_finite("x_fake", x_fake)
    C.check_in_interval("noise", u, 0.0, 1.0)
    return _interpolate(x_real, x_fake, u)


def _interpolate(x_real: torch.Tensor, x_fake: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """lerp(x_fake, x_real, u) per sample, in the promoted dtype of the samples (inputs already checked)."""
    dtype = torch.promote_types(x_real.dtype, x_fake.dtype)
    u = u.to(dtype).reshape((-1,) + (1,) * (x_real.ndim - 1))
    return torch.lerp(x_fake.to(dtype), x_real.to(dtype), u)


def gradient_penalty_from_gradients(gradients: torch.Tensor, *, weight: float = 10.0) -> torch.Tensor:
    r"""WGAN-GP penalty lambda mean_i (||g_i||_2 - 1)^2, the norm over all feature axes.

    .. math::

        \lambda \, \frac1n \sum_i \bigl(\lVert g_i \rVert_2 - 1\bigr)^2.

    The norm is ``torch.linalg.vector_norm`` of each flattened sample (its gradient at g_i = 0 is 0),
    computed in float32 for half gradients.

    Parameters
    ----------
    gradients : (n, ...) Tensor
        Critic input gradients at the interpolates, finite.
    weight : float
        The penalty weight lambda > 0.

    Returns
    -------
    () Tensor
        The penalty; float32 for half gradients, else their dtype.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, eq. (3).
    """
    lam = C.check_positive_scalar("weight", weight)
    g = _batch("gradients", gradients)
    C.check_finite("gradients", g)
    return _gradient_penalty(g, lam)


def _gradient_penalty(g: torch.Tensor, lam: float) -> torch.Tensor:
    acc = C.accumulation_dtype(g.dtype)
    norm = torch.linalg.vector_norm(g.reshape(g.shape[0], math.prod(g.shape[1:])), dim=1, dtype=acc)
    return ((norm - 1.0) ** 2).mean() * lam


def r1_penalty_from_gradients(gradients: torch.Tensor, *, gamma: float) -> torch.Tensor:
    r"""Zero-centred penalty gamma/2 mean_i ||g_i||^2 (R1 at real samples, R2 at generated ones).

    .. math::

        \frac{\gamma}{2}\, \frac1n \sum_i \lVert g_i \rVert_2^2,

    the squared norm over all feature axes, summed in float32 for half gradients (the squares of
    float16 gradients above 256 would overflow).

    Parameters
    ----------
    gradients : (n, ...) Tensor
        Discriminator input gradients, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () Tensor
        The penalty, >= 0; float32 for half gradients, else their dtype.

    References
    ----------
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (9) and (10).
    """
    gamma = C.check_positive_scalar("gamma", gamma)
    g = _batch("gradients", gradients)
    C.check_finite("gradients", g)
    return _r1_penalty(g, gamma)


def _r1_penalty(g: torch.Tensor, gamma: float) -> torch.Tensor:
    # mean over samples of the squared norm over features = (sum of all squares) / n: three operations.
    return g.to(C.accumulation_dtype(g.dtype)).square().sum() * (0.5 * gamma / g.shape[0])


class TanhCritic(nn.Module):
    r"""One-hidden-layer tanh critic f(x) = a^T tanh(W^T vec(x) + b), as an ``nn.Module``.

    .. math::

        f(x) = a^\top \tanh(W^\top \operatorname{vec}(x) + b), \qquad
        \nabla_x f(x) = W\bigl((1 - h^2) \odot a\bigr).

    The twin of :class:`reference.gan.TanhCritic`: ``W``, ``b``, ``a`` become ``nn.Parameter`` s
    (copies of the given tensors, same dtype and device). :meth:`grad` gives the analytic input
    gradient; the penalties (:func:`gradient_penalty`, :func:`r1_penalty`, :func:`r2_penalty`) do not need it
    (they use autograd).

    Parameters
    ----------
    W : (D, H) Tensor
        Input weights.
    b : (H,) Tensor
        Hidden biases.
    a : (H,) Tensor
        Output weights.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017;
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> None:
        super().__init__()
        W = C.as_float_tensor("W", W)
        b = C.as_float_tensor("b", b)
        a = C.as_float_tensor("a", a)
        C.check_same_device_dtype(("W", "b", "a"), (W, b, a))
        if W.ndim != 2:
            raise ValueError(f"W: expected a matrix of shape (D, H), got shape {tuple(W.shape)}")
        C.check_shape("b", b, W.shape[1:])
        C.check_shape("a", a, W.shape[1:])
        for name, p in (("W", W), ("b", b), ("a", a)):
            C.check_finite(name, p)
        self.W = nn.Parameter(W.detach().clone())
        self.b = nn.Parameter(b.detach().clone())
        self.a = nn.Parameter(a.detach().clone())

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        x = _batch("x", x)
        flat = x.reshape(x.shape[0], math.prod(x.shape[1:]))
        if flat.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"x: expected samples with {self.W.shape[0]} features in all (W has shape "
                f"{tuple(self.W.shape)}), got shape {tuple(x.shape)}"
            )
        return torch.tanh(flat @ self.W + self.b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Critic values f(x_i), shape (n,), for samples x of shape (n, ...)."""
        return self._hidden(x) @ self.a

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic gradient of sum_i f(x_i) with respect to x, shape like x."""
        h = self._hidden(x)
        return (((1.0 - h**2) * self.a) @ self.W.T).reshape(x.shape)


def _input_gradient(name: str, critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """grad_x sum_i critic(x)_i at the detached x, with a graph to the critic's parameters (see the module doc).

    ``torch.func.vjp`` while dynamo traces (no graph break) and inside the caller's ``torch.func``
    transforms (where autograd.grad is refused), ``torch.autograd.grad(create_graph=True)`` in plain
    eager mode (faster there, and it accepts critics that update buffers in the call).
    """
    x = x.detach()
    with torch.enable_grad():
        if _TORCH_FUNC_IN_EAGER or torch.compiler.is_compiling() or C.inside_functorch_transform():
            f, pullback = torch.func.vjp(critic, x)
            _check_critic_output(name, f, x)
            (g,) = pullback(torch.ones_like(f))
            return g
        x.requires_grad_(True)
        f = critic(x)
        _check_critic_output(name, f, x)
        if not f.requires_grad:  # f depends neither on x nor on a parameter: its gradient is 0
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(f, x, torch.ones_like(f), create_graph=True, materialize_grads=True)
    return g


def _check_critic_output(name: str, f: object, x: torch.Tensor) -> None:
    if not isinstance(f, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor from {name}(x), got {C.describe(f)}")
    n = x.shape[0]
    if not (f.shape == (n,) or f.shape == (n, 1)):
        raise ValueError(
            f"{name}: expected outputs of shape (n,) or (n, 1), one value per sample, for x of shape "
            f"{tuple(x.shape)}, got shape {tuple(f.shape)}"
        )


def _require_finite_penalty(
    penalty: torch.Tensor,
    x: torch.Tensor,
    names: tuple[str, ...],
    samples: tuple[torch.Tensor, ...],
    critic: str,
    g: torch.Tensor,
    u: torch.Tensor | None = None,
) -> None:
    """One device assertion: finite samples ``x`` (the interpolates stand for both sets: lerp is
    non-finite wherever either input is), a finite penalty (finite critic input gradients) and, where
    given, pre-drawn coefficients ``u`` in [0, 1].

    The flag is that of the sum of x plus the penalty: a NaN or inf in either makes it non-finite (a
    sum that overflows float32 needs samples near its largest value, 3e38, and is reported too)."""
    if C.value_checks_active():

        def detail() -> str:  # failure path only
            if u is not None and not bool(C.interval_flag(u, 0.0, 1.0)):
                nan = int(torch.isnan(u).sum())
                if nan:
                    return f"noise: expected no NaN, got {nan} NaN entries"
                return f"noise: expected values in [0.0, 1.0], got min {float(u.min())!r} and max {float(u.max())!r}"
            for name, sample in zip(names, samples):
                count = C.count_non_finite(sample)
                if count:
                    return f"{name}: expected finite values, got {count} NaN or infinite entries"
            return f"{critic}: expected finite input gradients, got {C.count_non_finite(g)} non-finite entries"

        message = f"{', '.join(names)}, {critic}: expected finite samples and input gradients"
        if u is not None:
            message += ", noise: expected values in [0, 1]"
        total = x.detach().sum(dtype=C.accumulation_dtype(x.dtype)) + penalty.detach()
        ok = C.result_flag(total)
        if u is not None:
            ok = ok.logical_and_(C.interval_flag(u, 0.0, 1.0))
        C.require(ok, message, detail)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    x_real: torch.Tensor,
    x_fake: torch.Tensor,
    *,
    weight: float = 10.0,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty, differentiable in the critic's parameters.

    .. math::

        \lambda\, \frac1n \sum_i \bigl(\lVert \nabla_{\hat x} f(\hat x_i) \rVert_2 - 1\bigr)^2,
        \qquad \hat x_i = u_i\, x_i + (1 - u_i)\, \tilde x_i.

    x-hat is built from *detached* ``x_real`` and ``x_fake`` (the penalty trains the critic, not the
    generator); the input gradient has a graph to the critic's parameters, so ``penalty.backward()``
    trains them. Autograd is enabled inside even under ``torch.no_grad``; there the value comes back
    without a graph. No graph break under ``torch.compile`` on the ``noise=`` path (see the module
    docstring for how the gradient is taken).

    Parameters
    ----------
    critic : callable
        Maps (n, ...) to critic values (n,) or (n, 1) (e.g. an ``nn.Module``); rows independent.
    x_real, x_fake : (n, ...) Tensor
        Real and generated samples, same shape and device, finite; any floating dtypes (promoted).
    weight : float
        The penalty weight lambda > 0.
    noise : (n,) Tensor, optional
        Coefficients u in [0, 1], same device (cast to the samples' dtype). Exactly one of ``noise``
        and ``rng``.
    rng : torch.Generator, optional
        On the samples' device: draws u with ``torch.rand`` there in the samples' dtype.

    Returns
    -------
    () Tensor
        The penalty; float32 for half samples, else their dtype.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, eq. (3), Algorithm 1;
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.
    """
    if not callable(critic):
        raise TypeError(f"critic: expected a callable (e.g. an nn.Module), got {C.describe(critic)}")
    lam = C.check_positive_scalar("weight", weight)
    C.check_noise_or_rng(noise, rng)
    x_real = _batch("x_real", x_real)
    x_fake = C.as_float_tensor("x_fake", x_fake)
    C.check_shape("x_fake", x_fake, x_real.shape)
    dtype = C.promoted_dtype(("x_real", "x_fake"), (x_real, x_fake))
    n = x_real.shape[0]
    if noise is None:
        rng = C.check_generator(rng, x_real.device)
        u = torch.rand(n, generator=rng, device=x_real.device, dtype=dtype)
    else:
        u = C.as_float_tensor("noise", noise)
        C.check_same_device(("x_real", "noise"), (x_real, u))
        C.check_shape("noise", u, (n,))
    x_hat = _interpolate(x_real.detach(), x_fake.detach(), u)
    g = _input_gradient("critic", critic, x_hat)
    penalty = _gradient_penalty(g, lam)
    drawn = None if noise is None else u  # pre-drawn coefficients are checked in the same assertion
    _require_finite_penalty(penalty, x_hat, ("x_real", "x_fake"), (x_real, x_fake), "critic", g, drawn)
    return penalty


def r1_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor], x_real: torch.Tensor, *, gamma: float
) -> torch.Tensor:
    r"""R1 penalty gamma/2 E_{p_data} ||grad_x D(x)||^2 at the real samples, differentiable in D's parameters.

    .. math::

        R_1 = \frac{\gamma}{2}\, \frac1n \sum_i \lVert \nabla_x D(x_i) \rVert^2,

    D the discriminator's logit. The gradient is taken at the *detached* ``x_real`` with a graph to the
    discriminator's parameters (``penalty.backward()`` reaches them), autograd enabled inside even
    under ``torch.no_grad`` (the value then comes back without a graph), no graph break under
    ``torch.compile``; see the module docstring.

    Parameters
    ----------
    discriminator : callable
        Maps (n, ...) to logits (n,) or (n, 1) (e.g. an ``nn.Module``); rows independent.
    x_real : (n, ...) Tensor
        Real samples, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () Tensor
        The penalty, >= 0; float32 for half samples, else their dtype.

    References
    ----------
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (9).
    """
    return _zero_centred_penalty(discriminator, "x_real", x_real, gamma)


def r2_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor], x_fake: torch.Tensor, *, gamma: float
) -> torch.Tensor:
    r"""R2 penalty gamma/2 E_{p_G} ||grad_x D(x)||^2 at the generated samples, differentiable in D's parameters.

    .. math::

        R_2 = \frac{\gamma}{2}\, \frac1n \sum_j \lVert \nabla_x D(\tilde x_j) \rVert^2.

    Same conventions as :func:`r1_penalty`; ``x_fake`` is detached (no gradient to the generator).

    Parameters
    ----------
    discriminator : callable
        Maps (n, ...) to logits (n,) or (n, 1).
    x_fake : (n, ...) Tensor
        Generated samples, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () Tensor
        The penalty, >= 0; float32 for half samples, else their dtype.

    References
    ----------
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (10).
    """
    return _zero_centred_penalty(discriminator, "x_fake", x_fake, gamma)


def _zero_centred_penalty(discriminator: object, name: str, x: object, gamma: float) -> torch.Tensor:
    if not callable(discriminator):
        raise TypeError(f"discriminator: expected a callable (e.g. an nn.Module), got {C.describe(discriminator)}")
    gamma = C.check_positive_scalar("gamma", gamma)
    x = _batch(name, x)
    g = _input_gradient("discriminator", discriminator, x)
    penalty = _r1_penalty(g, gamma)
    _require_finite_penalty(penalty, x, (name,), (x,), "discriminator", g)
    return penalty


# --------------------------------------------------------------------------- truncation trick


def _shape_tuple(shape: object) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise TypeError(f"shape: expected a tuple of non-negative ints, got {C.describe(shape)}")
    return tuple(shape)


def truncated_normal(
    psi: float,
    *,
    shape: tuple[int, ...] | None = None,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""BigGAN truncation trick: N(0, 1) truncated to [-psi, psi], by the inverse CDF of uniforms.

    .. math::

        z = \Phi^{-1}\bigl(\Phi(-\psi) + u\,(\Phi(\psi) - \Phi(-\psi))\bigr)
        \quad (u \le 1/2), \qquad
        z = -\Phi^{-1}\bigl(\Phi(-\psi) + (1 - u)(\Phi(\psi) - \Phi(-\psi))\bigr) \quad (u > 1/2),

    clamped to [-psi, psi] (rounding only). Two-sided truncation, equal in law to BigGAN's
    resampling of out-of-range elements; see :func:`reference.gan.truncated_normal`. The inverse CDF
    (``torch.special.ndtri``) is evaluated in float64 and the samples are cast to the dtype of
    ``noise`` (of the drawn uniforms with ``rng``): a float32 evaluation is off by up to 1.3e-6
    (measured; 3 ulp in the tails), the float64 one only by the final rounding.

    Parameters
    ----------
    psi : float
        Truncation threshold, finite and > 0.
    shape : tuple of int, optional
        Output shape; required with ``rng``; must equal ``noise.shape`` if given with ``noise``.
    noise : (...) Tensor, optional
        Uniforms u in [0, 1]. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws u with ``torch.rand(shape)`` on the generator's device in ``torch.get_default_dtype()``:
        the generator chooses where the latents live (nothing is drawn elsewhere and copied).

    Returns
    -------
    (...) Tensor
        Samples in [-psi, psi], dtype and device of the uniforms.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick'; Brock, Donahue, Simonyan, Large Scale GAN
    Training for High Fidelity Natural Image Synthesis, ICLR 2019, Section 3.1.
    """
    psi = C.check_positive_scalar("psi", psi)
    C.check_noise_or_rng(noise, rng)
    if shape is not None:
        shape = _shape_tuple(shape)
    if noise is None:
        if shape is None:
            raise ValueError("shape: required with rng= (the number of latents to draw), got None")
        u = torch.rand(shape, generator=rng, device=rng.device, dtype=torch.get_default_dtype())
    else:
        u = C.as_float_tensor("noise", noise)
        if shape is not None:
            C.check_shape("noise", u, shape)
        C.check_in_interval("noise", u, 0.0, 1.0)
    Phi_minus_psi = 0.5 * math.erfc(psi / math.sqrt(2.0))  # Phi(-psi), exact in the tail
    mass = math.erf(psi / math.sqrt(2.0))  # Phi(psi) - Phi(-psi)
    u64 = u.to(torch.float64)
    lower = torch.special.ndtri(Phi_minus_psi + u64 * mass)
    upper = -torch.special.ndtri(Phi_minus_psi + (1.0 - u64) * mass)
    z = torch.where(u64 <= 0.5, lower, upper).clamp(-psi, psi)
    return z.to(u.dtype)


def truncate_latent(z: torch.Tensor, z_mean: torch.Tensor, psi: float) -> torch.Tensor:
    r"""StyleGAN truncation z' = z_mean + psi (z - z_mean).

    .. math::

        z' = \hat z + \psi\,(z - \hat z), \qquad \hat z = \mathbb{E}_z\, z.

    Parameters
    ----------
    z : (..., d) Tensor
        Latents, finite.
    z_mean : (..., d) Tensor
        Their mean; same dtype and device; batch axes broadcast with ``z``'s.
    psi : float
        Truncation factor, finite.

    Returns
    -------
    (..., d) Tensor
        Truncated latents.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick'; Karras, Laine, Aila, A Style-Based Generator
    Architecture for Generative Adversarial Networks, CVPR 2019, Section 4.
    """
    psi = C.check_real_scalar("psi", psi)
    z = C.as_float_tensor("z", z)
    z_hat = C.as_float_tensor("z_mean", z_mean)
    C.check_same_device_dtype(("z", "z_mean"), (z, z_hat))
    C.check_ndim("z", z, 1)
    C.check_ndim("z_mean", z_hat, 1)
    C.check_same_last_dim(("z", "z_mean"), (z, z_hat))
    C.broadcast_batch(("z", "z_mean"), (z.shape[:-1], z_hat.shape[:-1]))
    C.check_finite("z", z)
    C.check_finite("z_mean", z_hat)
    return z_hat + psi * (z - z_hat)


# --------------------------------------------------------------------------- classifier two-sample test


class C2STResult(NamedTuple):
    """Result of :func:`classifier_two_sample_test` (float64 tensors on the inputs' device)."""

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


def _split_sizes(n_x: int, n_y: int, test_fraction: float) -> tuple[int, int]:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    m_x, m_y = round(test_fraction * n_x), round(test_fraction * n_y)
    for name, n, m in (("x", n_x, m_x), ("y", n_y, m_y)):
        if not 0 < m < n:
            raise ValueError(
                f"{name} / test_fraction: expected at least one training and one held-out point from {name}, "
                f"got {n} samples and test_fraction {test_fraction} ({m} held out)"
            )
    return m_x, m_y


def _logistic_newton(X: torch.Tensor, y: torch.Tensor, weight_decay: float, max_iter: int, tol: float) -> torch.Tensor:
    """Damped Newton (IRLS) for L2-penalised logistic regression: the reference's iteration, in float64.

    See ``reference.gan._logistic_newton`` for the step rule and why the converged iteration still
    takes its step. Reads two scalars on the host per iteration (the stopping test and the Armijo test).
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
        step = torch.linalg.solve(H, -gradient)
        decrease = float(gradient @ step)
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
    reference; the solve runs in float64 whatever the input dtype, and the p-value is the
    log-space sum ``logsumexp_k log pmf(k)`` with ``lgamma``.

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

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'Two-Sample Tests' and the log-odds slide after them;
    Lopez-Paz, Oquab, Revisiting Classifier Two-Sample Tests, ICLR 2017.
    """
    x = C.as_float_tensor("x", x)
    y = C.as_float_tensor("y", y)
    C.check_same_device_dtype(("x", "y"), (x, y))
    for name, s in (("x", x), ("y", y)):
        if s.ndim != 2:
            raise ValueError(f"{name}: expected a matrix of shape (n, d), got shape {tuple(s.shape)}")
        C.check_finite(name, s)
    C.check_same_last_dim(("x", "y"), (x, y))
    test_fraction = C.check_positive_scalar("test_fraction", test_fraction)
    weight_decay = C.check_positive_scalar("weight_decay", weight_decay)
    tol = C.check_positive_scalar("tol", tol)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: expected a positive int, got {C.describe(max_iter)}")
    n_x, n_y = x.shape[0], y.shape[0]
    m_x, m_y = _split_sizes(n_x, n_y, test_fraction)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        rng = C.check_generator(rng, x.device)
        noise = torch.rand(n_x + n_y, generator=rng, device=x.device, dtype=torch.float64)
    u = C.as_float_tensor("noise", noise)
    C.check_shape("noise", u, (n_x + n_y,))
    C.check_in_interval("noise", u, 0.0, 1.0)
    u = u.to(device=x.device, dtype=torch.float64)

    x = x.detach().to(torch.float64)[torch.argsort(u[:n_x], stable=True)]
    y = y.detach().to(torch.float64)[torch.argsort(u[n_x:], stable=True)]
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
