"""Fisher divergence and explicit score matching against a Gaussian KDE, in PyTorch.

Same formulas, names and parameters as :mod:`reference.score_matching.explicit` (Isachenko, DGM
Lecture 7, 'Fisher divergence'; Advanced Course on DGM, Lecture 8, 'Score Matching Via Fisher
Divergence'; Beigy, Score-Based Generative Models, 'Score Matching (SM)'). Conventions in
:mod:`accelerated.score_matching`.
"""

from __future__ import annotations

import math

import torch

import reference._args as A
import reference._args.distributions as AD
import reference._args.score_matching as SA

from .. import _checks as C
from ._common import (
    MODEL_EXAMPLE,
    Model,
    _checked,
    _half_squared_norm_mean,
    _probes,
    _samples,
    _scores,
    _standard_normals,
)

__all__ = ["explicit_score_matching", "fisher_divergence", "kde_log_density", "kde_score", "sliced_fisher_divergence"]

# kde_score: at most this many entries of the (rows, m, d) difference tensor at once.
_KDE_CHUNK_ENTRIES = 2**22


def _check_score_pair(score_p: object, score_q: object) -> tuple[torch.Tensor, torch.Tensor]:
    """(s_p, s_q): two score tensors of one shape (n, ...) on one device (dtypes may differ: autocast)."""
    s_p, s_q = _samples("score_p", score_p), _samples("score_q", score_q)
    C.check_same_device(("score_p", "score_q"), (s_p, s_q))
    C.check_shape("score_q", s_q, s_p.shape)
    return s_p, s_q


def _bandwidth(bandwidth: object) -> float:
    """A kernel width h > 0 whose square is a normal float64 (the score divides by h^2)."""
    h = A.positive("bandwidth", bandwidth)
    AD.squared("bandwidth", h, divisor=True)
    return h


def _check_kde(x: object, data: object, bandwidth: object) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(x, data, h): evaluation points and kernel centres of one feature shape, dtype and device, finite; h > 0."""
    x, data = _samples("x", x), _samples("data", data)
    C.check_same_device_dtype(("x", "data"), (x, data))
    if x.shape[1:] != data.shape[1:]:
        raise ValueError(
            f"x and data: expected the same feature shape, got x {tuple(x.shape)} and data {tuple(data.shape)}"
        )
    h = _bandwidth(bandwidth)
    C.check_finite("x", x)
    C.check_finite("data", data)
    return x, data, h


def _check_esm(
    model: object, data: object, bandwidth: object, noise: object, rng: object
) -> tuple[torch.Tensor, float, torch.Tensor]:
    """(data, h, eps) of explicit score matching: a callable model, kernel centres, h > 0, one normal per centre."""
    SA.check_model(model, MODEL_EXAMPLE)
    data = _samples("data", data)
    C.check_finite("data", data)  # device-side, as the reference's entry check (a model may refuse NaN x)
    return data, _bandwidth(bandwidth), _standard_normals("noise", noise, rng, data)


def fisher_divergence(score_p: torch.Tensor, score_q: torch.Tensor) -> torch.Tensor:
    r"""Fisher divergence from score values: mean over samples of one half the squared distance.

    .. math::

        D_F \approx \frac1n \sum_{i=1}^n \frac12 \lVert s_p(x_i) - s_q(x_i) \rVert_2^2 .

    Parameters
    ----------
    score_p, score_q : (n, ...) Tensor
        The two scores at the same samples; same shape, dtype and device; finite.

    Returns
    -------
    () Tensor
        The estimate, >= 0 (the factor 1/2 is the slide's; not a distance).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Fisher divergence'; Advanced Course on DGM, Lecture 8, slide
    'Score Matching Via Fisher Divergence'; Hyvarinen, JMLR 6 (2005).

    Examples
    --------
    One sample with s_p - s_q = (3, 4): 1/2 ||(3, 4)||^2 = 12.5 (the slide's 1/2, not a distance):

    >>> float(fisher_divergence(torch.tensor([[3.0, 4.0]]), torch.zeros(1, 2)))
    12.5
    """
    s_p, s_q = _check_score_pair(score_p, score_q)
    return _checked(_half_squared_norm_mean(s_p - s_q), (("score_p", s_p), ("score_q", s_q)))


def sliced_fisher_divergence(
    score_p: torch.Tensor,
    score_q: torch.Tensor,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sliced Fisher divergence from score values: mean of 1/2 (v^T (s_p - s_q))^2 over samples and probes.

    .. math::

        D_{SF} \approx \frac1{nM} \sum_{i,j} \frac12 \bigl(v_{ij}^\top (s_p(x_i) - s_q(x_i))\bigr)^2 .

    See :func:`reference.score_matching.sliced_fisher_divergence` (it equals sliced score matching
    plus a constant in theta).

    Parameters
    ----------
    score_p, score_q : (n, ...) Tensor
        The two scores at the same samples; same shape and device; finite.
    n_projections : int, optional
        M, projections per sample (default 1 with ``rng``; with ``noise``, ``noise.shape[0]``).
    kind : {'gaussian', 'rademacher'}
        Projection law drawn with ``rng`` (checked against ``noise``).
    noise : (M, n, ...) Tensor, optional
        The projection vectors v, in score_p's dtype and device. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws them on score_p's device.

    Returns
    -------
    () Tensor
        The estimate, >= 0, differentiable in both scores.

    Notes
    -----
    Accumulated in at least float32; a non-finite value (NaN input, or an overflow from finite inputs)
    is refused device-side with a ``ValueError`` naming the inputs, as on the reference side.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Sliced Score Matching'; Beigy, Score-Based Generative
    Models, slides 'Denoising Score Matching (DSM)' (the sliced Fisher divergence D_SF); Song, Garg,
    Shi, Ermon, UAI 2019, eq. (2).

    Examples
    --------
    s_p - s_q = (3, 4) on v = (1, 0) and (1, 1): (1/2 * 9 + 1/2 * 49) / 2 = 14.5 (by hand):

    >>> v = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])
    >>> float(sliced_fisher_divergence(torch.tensor([[3.0, 4.0]]), torch.zeros(1, 2), noise=v))
    14.5
    """
    s_p, s_q = _check_score_pair(score_p, score_q)
    v = _probes(s_p, "n_projections", n_projections, kind, noise, rng)
    acc = C.accumulation_dtype(torch.promote_types(s_p.dtype, s_q.dtype))
    diff = (s_p.to(acc) - s_q.to(acc)).reshape(s_p.shape[0], -1)
    projected = (v.to(acc).reshape(v.shape[0], *diff.shape) * diff).sum(-1)  # (M, n)
    value = projected.square().mean().mul(0.5)
    return _checked(value, (("score_p", s_p), ("score_q", s_q), ("noise", v)))


def kde_score(x: torch.Tensor, data: torch.Tensor, bandwidth: float) -> torch.Tensor:
    r"""Score of the Gaussian KDE :math:`q(x) = \frac1m \sum_k \mathcal N(x; x_k, h^2 I)` at the rows of x.

    .. math::

        \nabla_x \log q(x) = \sum_k w_k(x)\, \frac{x_k - x}{h^2}, \qquad
        w_k(x) = \operatorname{softmax}_k\Bigl(-\frac{\lVert x - x_k\rVert^2}{2h^2}\Bigr).

    See :func:`reference.score_matching.kde_score`.

    Parameters
    ----------
    x : (n, ...) Tensor
        Evaluation points, finite.
    data : (m, ...) Tensor
        Kernel centres, finite; same dtype and device.
    bandwidth : float
        Kernel width h > 0.

    Returns
    -------
    (n, ...) Tensor
        The KDE score at every row (differentiable in x and data).

    Notes
    -----
    The differences :math:`x_k - x` are formed directly (rows of x in chunks of at most ``2**22``
    difference entries); the softmax is the stable one.
    A bandwidth whose square is not a normal float64, and points at which the score is not finite
    (every kernel's exponent overflows, or the score itself), are refused as on the reference side.

    Precision: evaluated in float64 whatever the input dtype, and cast back. The weights are a
    softmax of exponents :math:`\lVert x - x_k\rVert^2 / 2h^2` that reach 1e4..1e6 away from the data
    at small h; rounding an exponent in float32 moves it by :math:`1.2\cdot 10^{-7}` times its size
    (0.1 at 1e6), which reweights kernels that are nearly equidistant from x and changes the score by
    per cents. In float64 the same error is 2e-16 times the exponent. It is a log-sum-exp over m terms,
    which the design accumulates in float64; the result is a training target, computed once per step.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)'; Vincent, Neural Computation 23
    (2011), Section 4.

    Examples
    --------
    One kernel at 0 with h = 0.5: the score of N(0, h^2) at x = 1 is (0 - 1) / h^2 = -4 (closed form):

    >>> kde_score(torch.tensor([[1.0]]), torch.zeros(1, 1), 0.5).tolist()
    [[-4.0]]
    """
    x, data, h = _check_kde(x, data, bandwidth)
    score = _kde_score(x, data, h)
    if score.numel() and C.value_checks_active():  # a device-side check, no host read
        C.require(C.result_flag(score), SA.kde_far_message("x"))
    return score


def kde_log_density(x: torch.Tensor, data: torch.Tensor, bandwidth: float) -> torch.Tensor:
    r"""Log of the Gaussian KDE :math:`q(x) = \frac1m \sum_k h^{-D} K((x - x_k)/h)` at the rows of x.

    .. math::

        \log q(x) = \operatorname{logsumexp}_k\Bigl(-\frac{\lVert x - x_k\rVert^2}{2h^2}\Bigr) - \log m
            - \frac D2 \log 2\pi - D \log h, \qquad K(u) = (2\pi)^{-D/2} e^{-\lVert u\rVert^2 / 2}.

    See :func:`reference.score_matching.kde_log_density`; its gradient in x is :func:`kde_score`.

    Parameters
    ----------
    x : (n, ...) Tensor
        Evaluation points, finite.
    data : (m, ...) Tensor
        Kernel centres, finite; same dtype, device and feature shape.
    bandwidth : float
        Kernel width h > 0.

    Returns
    -------
    (n,) Tensor
        log q(x_i), in x's dtype (differentiable in x and data).

    Notes
    -----
    Beigy's slide normalises the kernel by 1/h, the 1-D case; in D dimensions it is 1/h^D (used here).
    Evaluated in float64 (rows of x in chunks), as :func:`kde_score`, and cast back; points where the
    result is not finite (the squared distance in units of h overflows, or the value leaves x's dtype)
    are refused device-side with a ``ValueError`` naming ``x``.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (the kernel density estimator);
    Parzen, Annals of Mathematical Statistics 33 (1962).

    Examples
    --------
    One kernel at 0 with h = 1 is N(0, 1): log q(0) = -1/2 log(2 pi) = -0.9189... (closed form):

    >>> round(float(kde_log_density(torch.zeros(1, 1), torch.zeros(1, 1), 1.0)[0]), 4)
    -0.9189
    """
    x, data, h = _check_kde(x, data, bandwidth)
    flat_x, flat_data = x.reshape(x.shape[0], -1), data.reshape(data.shape[0], -1)
    m, D = flat_data.shape
    rows = max(1, _KDE_CHUNK_ENTRIES // (m * D))
    x64, data64 = flat_x.to(torch.float64), flat_data.to(torch.float64)
    out = []
    for start in range(0, x.shape[0], rows):
        diff = data64.unsqueeze(0) - x64[start : start + rows].unsqueeze(1)  # x_k - x, (rows, m, D)
        out.append(torch.logsumexp(-0.5 * (diff**2).sum(dim=-1) / h**2, dim=1))
    const = math.log(m) + 0.5 * D * math.log(2 * math.pi) + D * math.log(h)
    log_q = ((torch.cat(out) if len(out) > 1 else out[0]) - const).to(x.dtype)
    if log_q.numel() and C.value_checks_active():  # a device-side check, no host read
        C.require(C.result_flag(log_q), SA.kde_log_density_message("x"))
    return log_q


def _kde_score(x: torch.Tensor, data: torch.Tensor, h: float) -> torch.Tensor:
    """The KDE score of checked inputs: float64, rows of x in chunks, cast back to x's dtype."""
    shape = x.shape
    x, data = x.reshape(x.shape[0], -1), data.reshape(data.shape[0], -1)  # the KDE of the flattened samples
    m, d = data.shape
    rows = max(1, _KDE_CHUNK_ENTRIES // (m * d))
    x64, data64 = x.to(torch.float64), data.to(torch.float64)
    out = []
    for start in range(0, x.shape[0], rows):
        diff = data64.unsqueeze(0) - x64[start : start + rows].unsqueeze(1)  # x_k - x, (rows, m, d)
        w = torch.softmax(-0.5 * (diff**2).sum(dim=-1) / h**2, dim=1)
        out.append(torch.einsum("nm,nmd->nd", w, diff) / h**2)
    return (torch.cat(out) if len(out) > 1 else out[0]).to(x.dtype).reshape(shape)


def explicit_score_matching(
    model: Model,
    data: torch.Tensor,
    bandwidth: float,
    *,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Explicit score matching against a Gaussian KDE, over one draw from each kernel.

    .. math::

        \frac1m \sum_{k=1}^m \frac12 \lVert s_\theta(\tilde x_k) - \nabla \log q(\tilde x_k) \rVert^2,
        \qquad \tilde x_k = x_k + h \varepsilon_k .

    One half of Beigy's :math:`J_{esm}` (see :func:`reference.score_matching.explicit_score_matching`).
    The KDE score is a target (no gradient flows through it to the parameters: it does not depend on
    them).

    Parameters
    ----------
    model : callable
        Score model (n, ...) -> (n, ...), e.g. an ``nn.Module``.
    data : (m, ...) Tensor
        Kernel centres, finite.
    bandwidth : float
        Kernel width h > 0.
    noise : (m, ...) Tensor, optional
        Standard normals, same dtype and device as ``data``. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn(data.shape)`` on ``data``'s device (the generator must be there) in its dtype.

    Returns
    -------
    () Tensor
        The estimate.

    Notes
    -----
    Precision: the perturbed points :math:`\tilde x_k = x_k + h \varepsilon_k` and the KDE target at
    them are computed in float64 whatever the data's dtype; the model sees the points rounded to that
    dtype and the difference is accumulated in at least float32. In float32 a bandwidth below the data's
    resolution (h = 1e-8 against data of size 1) would otherwise round the perturbation away and
    the target to nearly 0 (a value off by orders of magnitude); the float64 target keeps the
    reference's value. Float64 data is computed exactly as before.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)'; Vincent, Neural Computation 23
    (2011), Section 4.

    Examples
    --------
    One kernel at 0 with h = 1 is q = N(0, 1), whose score is -x: that model's objective is 0:

    >>> float(explicit_score_matching(lambda x: -x, torch.zeros(1, 1), 1.0, noise=torch.ones(1, 1)))
    0.0
    """
    data, h, eps = _check_esm(model, data, bandwidth, noise, rng)
    # The perturbed points in float64: in float32 a small h eps rounds away against the data (1 + 1e-8
    # is 1), and the KDE target there would lose the perturbation it is the score of (Notes).
    x_tilde64 = torch.add(data.to(torch.float64), eps.to(torch.float64), alpha=h)
    s = _scores(model, x_tilde64.to(data.dtype))
    with torch.no_grad():
        target = _kde_score(x_tilde64, data, h)  # float64
    acc = C.accumulation_dtype(s.dtype)
    r = s.to(acc) - target.to(acc)
    return _checked(_half_squared_norm_mean(r), (("data", data), ("noise", eps), ("model(x)", s)))
