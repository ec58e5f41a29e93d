"""Score matching in PyTorch: Fisher divergence, ESM with a KDE, implicit, sliced and denoising SM, NCSN, Tweedie.

Same formulas, names, parameters and conventions as :mod:`reference.score_matching` (see it for the
slides: Isachenko DGM Lecture 7 'Fisher divergence' and 'Denoising score matching'; Advanced Course on
DGM Lecture 8 'Score Matching', 'Sliced Score Matching', "Tweedie's Formula", 'Denoising Score
Matching'; Isachenko DGM Lecture 13 'Implicit score matching', 'Sliced score matching (Hutchinson's
trace estimation)', 'Noise Conditioned Score Network (NCSN)'; Beigy 'Score Matching (SM)' and the DSM,
NCSN and sliced-SM slides). Every objective carries the 1/2 of the Fisher divergence and is a mean
over samples (and projections); see the reference module docstring for the factor conventions.

Models
------
A model is any callable on tensors (typically an ``nn.Module``) mapping samples ``(n, ...)`` (a
vector ``(n, d)`` or an image ``(n, C, H, W)`` per sample) to scores of the same shape, with samples
treated independently (no batch statistics: put ``BatchNorm`` in eval mode). Norms and traces are
over all the D feature entries of a sample. A noise-conditional model is called as
``model(x_tilde, sigma)`` with ``sigma`` an ``(n,)`` tensor in x's dtype on x's device, in
training (:func:`denoising_score_matching`, :func:`ncsn_loss`) and in sampling
(:func:`accelerated.langevin.annealed_langevin_sample`) alike. Derivatives are vector-Jacobian
products of one batched forward pass, never a Python loop over dimensions.

* ``jacobian_trace`` / ``implicit_score_matching`` with ``method="vmap"`` (any model): the D
  Jacobian rows e_i^T J at every sample are d vjps (``torch.func.vjp``) of one forward pass,
  vectorised with ``torch.func.vmap`` over the basis directions (``chunk_size`` of them at a time,
  to bound memory: about ``chunk_size * n`` times the model's activations); only their diagonal
  entries are kept. The cost is that of d backward passes, batched: the same arithmetic as the
  per-dimension autograd loop, in a few large kernels instead of d small ones.
* the same with ``method="factored"`` (an MLP: ``nn.Sequential`` of ``nn.Linear`` and elementwise
  activations, or :mod:`accelerated.models`): the trace of the product of weights and activation
  derivatives, rotated cyclically so that no basis is pushed for up to two hidden layers
  (``accelerated/_mlp_trace.py``). ``method="auto"``, the default, takes it whenever the model is
  recognised. ``benchmarks/bench_score_matching.py`` measures both methods against the loop.
* ``hutchinson_trace`` / ``sliced_score_matching`` / ``sliced_score_matching_vr``: the M probe
  batches are stacked into one batch of M n rows, with one forward pass and one vjp
  (``torch.func.vjp`` with the probes as cotangents: ``torch.compile`` traces it, where
  ``torch.autograd.grad`` would break the graph, and it stays differentiable in the parameters under
  grad mode), so the cost is O(1) model passes per projection whatever d: a training step is one
  forward and about three backward-sized passes (measured 1.75-2.1x a DSM step on one CPU thread,
  d = 16..1024).

Results are differentiable with respect to the model's parameters (and to ``x`` where it requires
grad), so ``loss.backward()`` trains the model; under ``torch.no_grad`` only the value is computed
(no graph is kept). Inputs are never copied between devices: ``noise``, ``levels`` and ``sigmas``
must be on ``x``'s device (``sigmas`` may have any floating dtype and is cast to ``x``'s).

Precision: results follow ``x``'s dtype and device; a model's output may have another floating dtype
(``torch.autocast``), and the objectives then compute in the promoted dtype, accumulate their sums in
float32 at least and return float32 for float16 / bfloat16 inputs. ``ncsn_loss`` evaluates
sigma^2 ||s + eps / sigma||^2 as ||sigma s + eps||^2, which stays in float16's range.

Host reads: none. The value checks (a finite objective, Rademacher probes, decreasing positive sigmas)
are device-side assertions (:func:`accelerated._checks.require`): the objective's finiteness covers
every input and the model's output, since each enters it through sums with positive weights; level
indices are bounds-checked by the gather itself. ``kde_score`` forms the
differences x_k - x directly, in float64 and in row chunks of at most ``2**22`` (rows m d entries),
never the cancellation-prone ``|x|^2 - 2 x.x_k + |x_k|^2``, and casts the score back to x's dtype.

One-sided names: none.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import _checks as C
from . import _mlp_trace

__all__ = [
    "denoising_score_matching",
    "explicit_score_matching",
    "fisher_divergence",
    "geometric_sigmas",
    "hutchinson_trace",
    "implicit_score_matching",
    "jacobian_trace",
    "kde_score",
    "ncsn_loss",
    "sliced_score_matching",
    "sliced_score_matching_vr",
    "tweedie_denoise",
]

PROBE_KINDS = ("gaussian", "rademacher")
TRACE_METHODS = ("auto", "factored", "vmap")

# kde_score: at most this many entries of the (rows, m, d) difference tensor at once.
_KDE_CHUNK_ENTRIES = 2**22

Model = Callable[..., torch.Tensor]


# --------------------------------------------------------------------------- input checks


def _samples(name: str, x: object) -> torch.Tensor:
    """A floating tensor of samples (n, ...), n >= 1 and at least one feature (metadata only).

    Finiteness is asserted on the result of each objective (see :func:`_checked`): a NaN or inf in
    the samples reaches it, and one reduction of a scalar replaces a pass over the data.
    """
    x = C.as_float_tensor(name, x)
    if x.ndim == 0 or x.shape[0] == 0 or x[0].numel() == 0:
        raise ValueError(
            f"{name}: expected samples of shape (n, ...) with n >= 1 and features, got shape {tuple(x.shape)}"
        )
    return x


def _check_callable(model: object) -> None:
    if not callable(model):
        raise TypeError(
            "model: expected a callable score model s(x) of the shape of x (e.g. an nn.Module), "
            f"got {C.describe(model)}"
        )


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {C.describe(value)}")


def _scores(model: Model, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
    """model(x[, cond]), checked to be a floating tensor of the shape of x (its dtype may differ: autocast)."""
    s = model(x, *cond)
    if not isinstance(s, torch.Tensor) or s.shape != x.shape:
        got = f"shape {tuple(s.shape)}" if isinstance(s, torch.Tensor) else C.describe(s)
        raise ValueError(f"model: expected scores of the shape of x {tuple(x.shape)}, got {got}")
    if not s.is_floating_point():
        raise TypeError(f"model: expected floating-point scores, got {C.describe(s)}")
    return s


def _features(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(1, x.ndim))


def _sum_features(x: torch.Tensor) -> torch.Tensor:
    """Sum over every axis after the first (one value per sample)."""
    return x.sum(dim=_features(x)) if x.ndim > 1 else x


def _half_squared_norm_mean(r: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """(1/n) sum_i w_i (1/2) ||r_i||^2 over the feature axes, accumulated in at least float32.

    Without a weight the per-sample norms are never formed: one square and one sum of all entries.
    """
    r = r.to(C.accumulation_dtype(r.dtype))
    n = r.shape[0]
    if weight is None:
        return r.square().sum().mul(0.5 / n)
    return (_sum_features(r.square()) * weight).sum().mul(0.5 / n)


def _checked(value: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> torch.Tensor:
    """Assert on the device that an objective's value is finite (no host read).

    Every input (samples, noise, probes, the model's output) enters the value through sums with
    finite positive weights, so a NaN or inf in any of them, or an overflow, makes it non-finite; the
    failure path (CPU, or ``value_checks("sync")``) names the first non-finite input, as the reference
    side's entry checks do.
    """
    if value.numel() and C.value_checks_active():
        C.require(C.result_flag(value), _objective_message, _objective_detail, value, inputs)
    return value


def _objective_message(value: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> str:
    return f"{', '.join(n for n, _ in inputs)}: expected finite values (the objective is not finite)"


def _objective_detail(value: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> str:
    for name, x in inputs:
        bad = C.count_non_finite(x) if x.numel() else 0
        if bad:
            return f"{name}: expected finite values, got {bad} NaN or infinite entries"
    return f"{', '.join(n for n, _ in inputs)}: the objective overflowed {value.dtype} from finite inputs"


def _chunk_size(chunk_size: object) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected None or a positive int, got {C.describe(chunk_size)}")
    return chunk_size


def _count(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected None or a positive int, got {C.describe(value)}")
    return value


def _probes(x: torch.Tensor, count_name: str, count: object, kind: object, noise: object, rng: object) -> torch.Tensor:
    """Probe vectors v of shape (M, n, ...): the given ``noise`` (checked) or M draws of ``kind`` from ``rng``."""
    if kind not in PROBE_KINDS:
        raise ValueError(f"kind: expected one of {PROBE_KINDS}, got {kind!r}")
    M = _count(count_name, count)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        C.check_generator(rng, x.device)
        shape = (1 if M is None else M, *x.shape)
        if kind == "gaussian":
            return torch.randn(shape, generator=rng, device=x.device, dtype=x.dtype)
        signs = torch.randint(0, 2, shape, generator=rng, device=x.device).to(dtype=x.dtype)
        return 2.0 * signs - 1.0
    v = C.as_float_tensor("noise", noise)
    C.check_same_device_dtype(("x", "noise"), (x, v))
    if v.ndim != x.ndim + 1 or v.shape[1:] != x.shape or v.shape[0] == 0 or (M is not None and v.shape[0] != M):
        expected = f"({'M' if M is None else M}, {', '.join(str(k) for k in x.shape)})"
        raise ValueError(
            f"noise: expected probes of shape {expected} ({count_name} probes per sample, x has shape "
            f"{tuple(x.shape)}), got shape {tuple(v.shape)}"
        )
    if kind == "rademacher" and C.value_checks_active():
        C.require(
            (v.detach().abs() == 1.0).all(),
            "noise: expected Rademacher probes (every entry -1 or +1) for kind='rademacher'",
        )
    return v


def _standard_normals(name: str, noise: object, rng: object, like: torch.Tensor) -> torch.Tensor:
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        C.check_generator(rng, like.device)
        return torch.randn(like.shape, generator=rng, device=like.device, dtype=like.dtype)
    eps = C.as_float_tensor(name, noise)
    C.check_same_device_dtype(("x", name), (like, eps))
    C.check_shape(name, eps, like.shape)
    return eps


def _sigma_table(sigmas: object, x: torch.Tensor) -> torch.Tensor:
    """NCSN levels sigma_1 > ... > sigma_L > 0 on x's device, in x's dtype.

    Checked on the device, once per table: the same tensor, unchanged (its version counter), is not
    checked again at the next training step.
    """
    sigmas = C.as_float_tensor("sigmas", sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] == 0:
        raise ValueError(f"sigmas: expected a vector of noise levels of shape (L,), got shape {tuple(sigmas.shape)}")
    if sigmas.device != x.device:
        raise ValueError(
            f"sigmas: expected the noise levels on x's device {x.device}, got {sigmas.device} "
            "(move the table once with sigmas.to(device))"
        )
    if C.value_checks_active() and not C.validated(sigmas, "ncsn sigmas"):
        s = sigmas.detach()
        ok = (s.amin() > 0) & (s.amax() < math.inf)
        if s.shape[0] > 1:
            ok = ok & (s[1:] < s[:-1]).all()

        def detail() -> str:
            if C.count_non_finite(s):
                return f"sigmas: expected finite values, got {C.count_non_finite(s)} NaN or infinite entries"
            if bool((s <= 0).any()):
                return f"sigmas: expected positive noise levels, got min {float(s.min())!r}"
            return f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L (NCSN), got {s.tolist()}"

        C.require(ok, "sigmas: expected finite, positive, strictly decreasing noise levels (NCSN)", detail)
        C.mark_validated(sigmas, "ncsn sigmas")  # a training loop passes the same table every step
    return sigmas if sigmas.dtype == x.dtype else sigmas.to(x.dtype)


def _levels_message(l: torch.Tensor, L: int) -> str:
    return f"levels: expected indices in [0, {L}) (L = {L} levels), got min {int(l.min())} and max {int(l.max())}"


def _per_sample(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-sample (n,) tensor as (n, 1, ..., 1), to broadcast over x's feature axes (a view)."""
    return value.view((x.shape[0],) + (1,) * (x.ndim - 1))


def _noise_levels(sigma: float, x: torch.Tensor) -> torch.Tensor:
    """The model-call protocol: one noise level per sample, shape (n,), in x's dtype on x's device."""
    return torch.full((x.shape[0],), sigma, dtype=x.dtype, device=x.device)


# --------------------------------------------------------------------------- vector-Jacobian products


def _basis_diagonal(model: Model, x: torch.Tensor, chunk_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """s = model(x) (n, ...) and the Jacobian diagonals J_i[j, j] as a (D, n) tensor, exactly.

    D is the number of features (the product of the feature axes: the Jacobian of the flattened map).
    One forward pass of the batch; ``torch.func.vjp`` gives the pullback u -> u^T J at every row, which
    is vmapped over the D basis cotangents e_j (the same at every row; ``chunk_size`` of them at a
    time), keeping only the entry (e_j^T J_i)_j of each. Differentiable in the model's parameters
    (and in x): torch.func transforms compose with ordinary autograd outside them.
    """
    n, features = x.shape[0], x.shape[1:]
    D = math.prod(features)
    s, pullback = torch.func.vjp(model, x)
    _scores(lambda _: s, x)
    basis = torch.eye(D, dtype=s.dtype, device=x.device).view(D, 1, *features).expand(D, n, *features)

    def diagonal_entry(e: torch.Tensor) -> torch.Tensor:
        (eJ,) = pullback(e)
        return _sum_features(eJ * e)

    return s, torch.func.vmap(diagonal_entry, chunk_size=chunk_size)(basis)


def _method(method: object) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method: expected one of {TRACE_METHODS} (a str), got {C.describe(method)}")
    if method not in TRACE_METHODS:
        raise ValueError(f"method: expected one of {TRACE_METHODS}, got {C.describe(method)}")
    return method


def _scores_and_trace(
    model: Model, x: torch.Tensor, chunk_size: int | None, method: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """s = model(x) (n, ...) and the exact traces tr(grad_x s) (n,), by the factored or the vmap method."""
    steps = None if method == "vmap" or x.ndim != 2 else _mlp_trace.chain_of(model)
    if steps is None:
        if method == "factored":
            raise TypeError(
                "model: method='factored' needs an nn.Sequential of nn.Linear and elementwise activations "
                "(no hooks, no in-place activations) or an unconditional accelerated.models.MLPScore / "
                f"LinearScore, on samples of shape (n, d); got {C.describe(model)} and x of shape "
                f"{tuple(x.shape)}. Use method='vmap' (or 'auto') for any model"
            )
        s, diagonal = _basis_diagonal(model, x, chunk_size)
        return s, diagonal.sum(dim=0)
    _mlp_trace.check_input(steps, x)
    s, factors = _mlp_trace.forward_with_factors(steps, x)
    _scores(lambda _: s, x)
    return s, _mlp_trace.trace_of_factors(factors, x.shape[0], chunk_size)


def _probe_quadratic_forms(model: Model, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (M, n, ...) at the M copies of x and the quadratic forms v^T (grad_x s) v, (M, n).

    The M probe batches are stacked into one batch of M n rows: one forward pass and one
    vector-Jacobian product (``torch.func.vjp`` with the probes as cotangents), whatever the number of
    features. ``torch.func`` rather than ``torch.autograd.grad``: ``torch.compile`` traces it without
    a graph break, and under grad mode its result stays differentiable in the model's parameters (and
    in x when it requires grad), as a training step needs; under ``torch.no_grad`` it is a plain value.
    """
    M, n = v.shape[0], x.shape[0]
    rows = x if M == 1 else x.unsqueeze(0).expand(M, *x.shape).reshape(M * n, *x.shape[1:])
    s, pullback = torch.func.vjp(model, rows)
    _scores(lambda _: s, rows)
    v_rows = v.reshape(rows.shape)
    (vJ,) = pullback(v_rows.to(s.dtype))  # the cotangent in the output's dtype (autocast)
    vJv = _sum_features(vJ * v_rows).reshape(M, n)
    return s.reshape(v.shape), vJv


# --------------------------------------------------------------------------- Fisher divergence and ESM


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
    """
    s_p = _samples("score_p", score_p)
    s_q = _samples("score_q", score_q)
    C.check_same_device(("score_p", "score_q"), (s_p, s_q))  # dtypes may differ (a model's under autocast)
    C.check_shape("score_q", s_q, s_p.shape)
    return _checked(_half_squared_norm_mean(s_p - s_q), (("score_p", s_p), ("score_q", s_q)))


def kde_score(x: torch.Tensor, data: torch.Tensor, bandwidth: float) -> torch.Tensor:
    r"""Score of the Gaussian KDE :math:`q(x) = \frac1m \sum_k \mathcal N(x; x_k, h^2 I)` at the rows of x.

    .. math::

        \nabla_x \log q(x) = \sum_k w_k(x)\, \frac{x_k - x}{h^2}, \qquad
        w_k(x) = \operatorname{softmax}_k\Bigl(-\frac{\lVert x - x_k\rVert^2}{2h^2}\Bigr).

    The differences :math:`x_k - x` are formed directly (rows of x in chunks of at most ``2**22``
    difference entries); the softmax is the stable one. See :func:`reference.score_matching.kde_score`.

    Precision: evaluated in float64 whatever the input dtype, and cast back. The weights are a
    softmax of exponents :math:`\lVert x - x_k\rVert^2 / 2h^2` that reach 1e4..1e6 away from the data
    at small h; rounding an exponent in float32 moves it by :math:`1.2\cdot 10^{-7}` times its size
    (0.1 at 1e6), which reweights kernels that are nearly equidistant from x and changes the score by
    per cents. In float64 the same error is 2e-16 times the exponent. It is a log-sum-exp over m terms,
    which the design accumulates in float64; the result is a training target, computed once per step.

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

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)'; Vincent, Neural Computation 23
    (2011), Section 4.
    """
    x = _samples("x", x)
    data = _samples("data", data)
    C.check_same_device_dtype(("x", "data"), (x, data))
    if x.shape[1:] != data.shape[1:]:
        raise ValueError(
            f"x and data: expected the same feature shape, got x {tuple(x.shape)} and data {tuple(data.shape)}"
        )
    h = C.check_positive_scalar("bandwidth", bandwidth)
    C.check_finite("x", x)
    C.check_finite("data", data)
    return _kde_score(x, data, h)


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

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)'; Vincent, Neural Computation 23
    (2011), Section 4.
    """
    _check_callable(model)
    data = _samples("data", data)
    h = C.check_positive_scalar("bandwidth", bandwidth)
    eps = _standard_normals("noise", noise, rng, data)
    x_tilde = torch.add(data, eps, alpha=h)
    s = _scores(model, x_tilde)
    with torch.no_grad():
        target = _kde_score(x_tilde, data, h)
    return _checked(_half_squared_norm_mean(s - target), (("data", data), ("noise", eps), ("model(x)", s)))


# --------------------------------------------------------------------------- implicit score matching


def jacobian_trace(
    model: Model, x: torch.Tensor, *, chunk_size: int | None = None, method: str = "auto"
) -> torch.Tensor:
    r"""Exact trace of the score model's Jacobian at every sample (its divergence), never by probes.

    .. math::

        \operatorname{tr}\bigl(\nabla_x s_\theta(x_i)\bigr) = \sum_{j=1}^d e_j^\top \nabla_x s_\theta(x_i)\, e_j .

    Two exact methods:

    * ``"vmap"``, for any model: one forward pass of the batch, then the d pullbacks of the basis
      vectors :math:`e_j` (the same at every row) through ``torch.func.vjp``, vmapped over j in
      chunks of ``chunk_size``; only the diagonal entries :math:`(e_j^\top J_i)_j` are kept. The
      arithmetic of d backward passes, in a few large kernels instead of the d small ones of a
      Python loop over dimensions.
    * ``"factored"``, for an MLP (an ``nn.Sequential`` of ``nn.Linear`` and elementwise
      activations, or an unconditional :class:`accelerated.models.MLPScore` / ``LinearScore``):
      the Jacobian is the product :math:`W_K D_{K-1} \cdots D_1 W_1` of the weights and the
      activation derivatives :math:`D_k = \operatorname{diag}\sigma'(a_k)`, and by the cyclic
      invariance of the trace :math:`\operatorname{tr} = \operatorname{tr}(D_{K-1} \cdots D_1\, W_1
      W_K)`. With two hidden layers that is one bilinear form per sample,
      :math:`\delta_1^\top \bigl((W_1 W_3) \circ W_2^\top\bigr) \delta_2`: O(h^2) per sample instead
      of O(d h^2). At d = 64, h = 256, batch 256 on a 2-core CPU it is 15-18x faster than the
      per-dimension autograd loop for the value and 24-27x for a training step, about two forward
      passes of the model (``benchmarks/bench_score_matching.py``). Deeper chains push the identity
      of their narrowest layer through the inner layers only: still O(d h^2), measured 1.0-1.3x
      the loop with three hidden layers. Details in ``accelerated/_mlp_trace.py``.

    ``"auto"`` (the default) takes ``"factored"`` when the model is recognised (less arithmetic
    than ``"vmap"`` for all but batches of one or two rows), else ``"vmap"``. Both are exact and differentiable in the
    parameters and in x; they differ only by rounding.

    Parameters
    ----------
    model : callable
        Score model (n, ...) -> (n, ...) with independent rows (an ``nn.Module``, a function).
    x : (n, ...) Tensor
        Samples, finite.
    chunk_size : int, optional
        Basis directions per batch (memory about ``chunk_size * n`` times the model's
        activations); default all d at once, the fewest kernels (what a GPU wants). On a CPU,
        ``chunk_size = 4096 // n`` keeps the activations in cache: measured 1.1-1.2x faster for a
        training step at d = 64, n = 256. The factored method with at most two hidden layers needs
        no basis and ignores it. The result does not depend on it.
    method : {"auto", "factored", "vmap"}
        See above. ``"factored"`` raises ``TypeError`` for a model it does not recognise.

    Returns
    -------
    (n,) Tensor
        The exact traces, differentiable in the model's parameters.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Hard to scale'; Isachenko, DGM Lecture 13, slide
    'Implicit score matching'.
    """
    _check_callable(model)
    x = _samples("x", x)
    chunk_size = _chunk_size(chunk_size)
    _, trace = _scores_and_trace(model, x, chunk_size, _method(method))
    return _checked(trace, (("x", x),))


def implicit_score_matching(
    model: Model, x: torch.Tensor, *, chunk_size: int | None = None, method: str = "auto"
) -> torch.Tensor:
    r"""Implicit (Hyvarinen) score matching with the exact Jacobian trace.

    .. math::

        \frac1n \sum_{i=1}^n \Bigl[\frac12 \lVert s_\theta(x_i) \rVert_2^2
            + \operatorname{tr}\bigl(\nabla_x s_\theta(x_i)\bigr)\Bigr]
        = D_F(\pi, p_\theta) - \frac12 \mathbb{E}_\pi \lVert \nabla \log \pi \rVert^2 \ (\text{in expectation}).

    The scores come from the same forward pass as the trace (:func:`jacobian_trace`). Only x is
    differentiated: for a conditional model, close over the condition
    (``lambda x: model(x, c)``; such a closure takes the ``"vmap"`` method).

    Parameters
    ----------
    model : callable
        Score model (n, ...) -> (n, ...) with independent rows.
    x : (n, ...) Tensor
        Samples from the data distribution, finite.
    chunk_size : int, optional
        See :func:`jacobian_trace`.
    method : {"auto", "factored", "vmap"}
        How the trace is computed; see :func:`jacobian_trace`.

    Returns
    -------
    () Tensor
        The estimate, differentiable in the model's parameters.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Implicit score matching'; Advanced Course on DGM, Lecture 8,
    slides 'Score Matching' and 'Proof: 1D'; Hyvarinen, JMLR 6 (2005), Theorem 1.
    """
    _check_callable(model)
    x = _samples("x", x)
    chunk_size = _chunk_size(chunk_size)
    s, trace = _scores_and_trace(model, x, chunk_size, _method(method))
    acc = C.accumulation_dtype(s.dtype)
    objective = _half_squared_norm_mean(s) + trace.to(acc).mean()
    return _checked(objective, (("x", x), ("model(x)", s)))


# --------------------------------------------------------------------------- Hutchinson and sliced SM


def hutchinson_trace(
    model: Model,
    x: torch.Tensor,
    *,
    n_probes: int | None = None,
    kind: str = "gaussian",
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Hutchinson's unbiased Jacobian-trace estimate at every sample, from M probes (one batched vjp).

    .. math::

        \operatorname{tr}\bigl(\nabla_x s_\theta(x_i)\bigr) \approx \frac1M \sum_{j=1}^M
            v_{ij}^\top \nabla_x s_\theta(x_i)\, v_{ij}, \qquad \mathbb{E}[vv^\top] = I.

    Parameters
    ----------
    model : callable
        Score model (n, ...) -> (n, ...) with independent rows.
    x : (n, ...) Tensor
        Samples, finite.
    n_probes : int, optional
        M: default 1 with ``rng``; with ``noise`` it is ``noise.shape[0]`` and, if given, must equal it.
    kind : {'gaussian', 'rademacher'}
        Probe law drawn with ``rng``; checked against ``noise`` (Rademacher probes must be +-1).
    noise : (M, n, ...) Tensor, optional
        The probes, same dtype and device as x. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn`` or Rademacher signs (``2 torch.randint(0, 2) - 1``) of shape (M, *x.shape)
        on x's device, where the generator must be (a ValueError otherwise).

    Returns
    -------
    (n,) Tensor
        The estimates (mean over each sample's probes).

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Sliced score matching (Hutchinson's trace estimation)';
    Hutchinson, Comm. Statist. Simulation Comput. 18 (1989).
    """
    _check_callable(model)
    x = _samples("x", x)
    v = _probes(x, "n_probes", n_probes, kind, noise, rng)
    _, vJv = _probe_quadratic_forms(model, x, v)
    return _checked(vJv.mean(dim=0), (("x", x), ("noise", v)))


def sliced_score_matching(
    model: Model,
    x: torch.Tensor,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sliced score matching (SSM): one forward pass and one vjp for all the projections (stacked rows).

    .. math::

        \frac1{nM} \sum_{i=1}^n \sum_{j=1}^M \Bigl[v_{ij}^\top \nabla_x s_\theta(x_i)\, v_{ij}
            + \frac12 \bigl(v_{ij}^\top s_\theta(x_i)\bigr)^2\Bigr].

    Expectation over v: :func:`implicit_score_matching` (for :math:`\mathbb{E}[vv^\top] = I`).
    Cost: one forward and, per training step, about one extra backward pass for the vjp, whatever
    d (measured in ``benchmarks/bench_score_matching.py`` against :func:`denoising_score_matching`).

    Parameters
    ----------
    model, x, n_projections, kind, noise, rng
        As in :func:`reference.score_matching.sliced_score_matching`; tensors on one device and dtype,
        ``rng`` a ``torch.Generator`` (draws as in :func:`hutchinson_trace`).

    Returns
    -------
    () Tensor
        The estimate, differentiable in the model's parameters.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Sliced Score Matching'; Beigy, Score-Based Generative
    Models, the sliced score matching estimator; Song, Garg, Shi, Ermon, UAI 2019, eq. (8).
    """
    _check_callable(model)
    x = _samples("x", x)
    v = _probes(x, "n_projections", n_projections, kind, noise, rng)
    s, vJv = _probe_quadratic_forms(model, x, v)
    acc = C.accumulation_dtype(torch.promote_types(s.dtype, v.dtype))
    vs = (v.flatten(2).to(acc) * s.flatten(2).to(acc)).sum(dim=-1)
    return _checked((vJv.to(acc) + 0.5 * vs**2).mean(), (("x", x), ("noise", v), ("model(x)", s)))


def sliced_score_matching_vr(
    model: Model,
    x: torch.Tensor,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sliced score matching with variance reduction (SSM-VR): projected trace plus the exact 1/2 |s|^2.

    .. math::

        \frac1{nM} \sum_{i,j} v_{ij}^\top \nabla_x s_\theta(x_i)\, v_{ij}
            + \frac1n \sum_i \frac12 \lVert s_\theta(x_i) \rVert_2^2 .

    Same expectation as :func:`sliced_score_matching` (for :math:`\mathbb{E}[vv^\top] = I`), lower
    variance; a separate function because it is a different estimator (see the reference).

    Parameters
    ----------
    model, x, n_projections, kind, noise, rng
        As in :func:`sliced_score_matching`.

    Returns
    -------
    () Tensor
        The estimate, differentiable in the model's parameters.

    References
    ----------
    Song, Garg, Shi, Ermon, Sliced Score Matching, UAI 2019, eq. (9); Isachenko, DGM Lecture 13,
    slide 'Sliced score matching (Hutchinson's trace estimation)'.
    """
    _check_callable(model)
    x = _samples("x", x)
    v = _probes(x, "n_projections", n_projections, kind, noise, rng)
    s, vJv = _probe_quadratic_forms(model, x, v)
    acc = C.accumulation_dtype(s.dtype)
    return _checked(vJv.to(acc).mean() + _half_squared_norm_mean(s[0]), (("x", x), ("noise", v), ("model(x)", s)))


# --------------------------------------------------------------------------- denoising SM and NCSN


def denoising_score_matching(
    model: Model,
    x: torch.Tensor,
    sigma: float,
    *,
    noise_conditional: bool = False,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Denoising score matching at one noise level, with the 1/2 (Beigy's and Lecture 8's form).

    .. math::

        \frac1n \sum_{i=1}^n \frac12 \Bigl\lVert s_\theta(x_i + \sigma\varepsilon_i)
            + \frac{\varepsilon_i}{\sigma} \Bigr\rVert_2^2 .

    Isachenko's Lecture 7 and 13 slides write it without the 1/2 (twice this); no sigma^2 weight (see
    :func:`ncsn_loss`). Details in :func:`reference.score_matching.denoising_score_matching`.

    Parameters
    ----------
    model : callable
        ``model(x_tilde)``, or ``model(x_tilde, sigma)`` with ``noise_conditional`` (sigma an (n,)
        tensor in x's dtype on x's device).
    x : (n, ...) Tensor
        Clean samples, finite.
    sigma : float
        Noise standard deviation > 0.
    noise_conditional : bool
        Pass sigma to the model (default False). Changes only the call.
    noise : (n, ...) Tensor, optional
        Standard normals, same dtype and device as x. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn(x.shape)`` on x's device (the generator must be there) in x's dtype.

    Returns
    -------
    () Tensor
        The estimate, differentiable in the model's parameters.

    References
    ----------
    Isachenko, DGM Lecture 7, slides 'Denoising score matching'; Advanced Course on DGM, Lecture 8,
    slide 'Denoising Score Matching'; Beigy, Score-Based Generative Models, the DSM slides; Vincent,
    Neural Computation 23 (2011).
    """
    _check_callable(model)
    _check_bool("noise_conditional", noise_conditional)
    x = _samples("x", x)
    sigma = C.check_positive_scalar("sigma", sigma)
    eps = _standard_normals("noise", noise, rng, x)
    x_tilde = torch.add(x, eps, alpha=sigma)
    s = _scores(model, x_tilde, _noise_levels(sigma, x)) if noise_conditional else _scores(model, x_tilde)
    r = torch.add(s.to(C.accumulation_dtype(s.dtype)), eps, alpha=1.0 / sigma)  # s + eps / sigma, in range
    return _checked(_half_squared_norm_mean(r), (("x", x), ("noise", eps), ("model(x)", s)))


def geometric_sigmas(sigma_1: float, sigma_L: float, L: int) -> torch.Tensor:
    r"""NCSN noise levels :math:`\sigma_l = \sigma_1 (\sigma_L / \sigma_1)^{(l-1)/(L-1)}`, a float64 CPU tensor.

    End points exactly ``sigma_1`` and ``sigma_L``; move the table to the training device once
    (``sigmas.to(device)``) and pass it to :func:`ncsn_loss` (which casts it to the data's dtype).

    Parameters
    ----------
    sigma_1 : float
        Largest level, finite.
    sigma_L : float
        Smallest level, 0 < sigma_L < sigma_1.
    L : int
        Number of levels, >= 2.

    Returns
    -------
    (L,) Tensor
        float64, strictly decreasing, on the CPU.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)'; Beigy, Score-Based
    Generative Models, the NCSN slide; Song and Ermon, NeurIPS 2019, Section 4.2.
    """
    sigma_1 = C.check_positive_scalar("sigma_1", sigma_1)
    sigma_L = C.check_positive_scalar("sigma_L", sigma_L)
    if isinstance(L, bool) or not isinstance(L, int) or L < 2:
        raise ValueError(f"L: expected an int >= 2 (number of noise levels), got {C.describe(L)}")
    if not sigma_L < sigma_1:
        raise ValueError(f"sigma_1, sigma_L: expected sigma_1 > sigma_L, got {sigma_1!r} and {sigma_L!r}")
    t = torch.arange(L, dtype=torch.float64) / (L - 1)
    sigmas = sigma_1 * torch.pow(torch.tensor(sigma_L / sigma_1, dtype=torch.float64), t)
    sigmas[0], sigmas[-1] = sigma_1, sigma_L
    if bool((sigmas[1:] >= sigmas[:-1]).any()):
        raise ValueError(
            f"sigma_1, sigma_L, L: the ratio sigma_1 / sigma_L = {sigma_1 / sigma_L!r} is too close to 1 for "
            f"{L} distinct float64 levels"
        )
    return sigmas


def ncsn_loss(
    model: Model,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    noise_conditional: bool = True,
    levels: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""NCSN loss: sigma^2-weighted DSM with the 1/2, one random level per sample, mean over samples.

    .. math::

        \frac1n \sum_{i=1}^n \frac12\, \sigma_{l_i}^2 \Bigl\lVert s_\theta(x_i + \sigma_{l_i}\varepsilon_i,
            \sigma_{l_i}) + \frac{\varepsilon_i}{\sigma_{l_i}} \Bigr\rVert_2^2 .

    In expectation over uniform levels: Song and Ermon's :math:`\frac1L \sum_l \sigma_l^2 \ell(\theta;
    \sigma_l)`; the Lecture 13 objective (no 1/2, sum over levels) is 2L times it. See
    :func:`reference.score_matching.ncsn_loss` for the factors.

    Parameters
    ----------
    model : callable
        ``model(x_tilde, sigma)`` with sigma an (n,) tensor of each sample's level (or
        ``model(x_tilde)`` with ``noise_conditional=False``).
    x : (n, ...) Tensor
        Clean samples, finite.
    sigmas : (L,) Tensor
        Levels sigma_1 > ... > sigma_L > 0 on x's device, any floating dtype (cast to x's).
    noise_conditional : bool
        Default True. Changes only the call.
    levels : (n,) integer Tensor, optional
        0-based level indices in [0, L), on x's device; goes with ``noise``.
    noise : (n, ...) Tensor, optional
        Standard normals; requires ``levels``. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``levels = torch.randint(0, L, (n,))``, then ``noise = torch.randn(x.shape)``, on x's
        device, where the generator must be.

    Returns
    -------
    () Tensor
        The estimate, differentiable in the model's parameters.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)'; Beigy, Score-Based
    Generative Models, the NCSN slide; Song and Ermon, NeurIPS 2019, eqs. (5)-(6).
    """
    _check_callable(model)
    _check_bool("noise_conditional", noise_conditional)
    x = _samples("x", x)
    sigmas = _sigma_table(sigmas, x)
    L, n = sigmas.shape[0], x.shape[0]
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        if levels is not None:
            raise ValueError("levels: pre-drawn levels go with noise= (with rng= the levels are drawn), got both")
        C.check_generator(rng, x.device)
        levels = torch.randint(0, L, (n,), generator=rng, device=x.device)
    elif levels is None:
        raise ValueError("levels: required with noise= (the pre-drawn level index of every sample), got None")
    l = C.as_int_tensor("levels", levels)
    C.check_shape("levels", l, (n,))
    if l.device != x.device:
        raise ValueError(f"levels: expected the level indices on x's device {x.device}, got {l.device}")
    eps = _standard_normals("noise", noise, rng, x)
    if C.get_value_checks() == "sync" and C.value_checks_active() and bool(((l < 0) | (l >= L)).any()):
        raise ValueError(_levels_message(l, L))  # named at the call, before a GPU kernel's bounds assertion
    try:  # index_select's bounds check (no host read on the accelerator) refuses negative indices too
        sigma = sigmas.index_select(0, l if l.dtype == torch.int64 else l.long())  # (n,): the model's sigma
    except IndexError:
        raise ValueError(_levels_message(l, L)) from None
    sigma_b = _per_sample(sigma, x)
    x_tilde = torch.addcmul(x, sigma_b, eps)
    s = _scores(model, x_tilde, sigma) if noise_conditional else _scores(model, x_tilde)
    # sigma^2 ||s + eps / sigma||^2 = ||sigma s + eps||^2: the same value, without eps / sigma, whose
    # square overflows float16 at small sigma (eps / sigma = 400 at sigma = 0.01).
    r = torch.addcmul(eps.to(C.accumulation_dtype(s.dtype)), sigma_b, s)
    return _checked(_half_squared_norm_mean(r), (("x", x), ("noise", eps), ("model(x)", s)))


# --------------------------------------------------------------------------- Tweedie


def tweedie_denoise(y: torch.Tensor, score: torch.Tensor, sigma: float) -> torch.Tensor:
    r"""Tweedie's formula :math:`\mathbb{E}[x \mid y] = y + \sigma^2 \nabla_y \log p_\sigma(y)`.

    Parameters
    ----------
    y : (..., d) Tensor
        Noisy observations y = x + sigma eps, finite.
    score : (..., d) Tensor
        Score of the noisy marginal at y; same shape, dtype and device.
    sigma : float
        Noise standard deviation > 0.

    Returns
    -------
    (..., d) Tensor
        The posterior means.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides "Tweedie's Formula" and its proof; Efron, JASA 106 (2011).
    """
    y = C.as_float_tensor("y", y)
    score = C.as_float_tensor("score", score)
    C.check_same_device_dtype(("y", "score"), (y, score))
    C.check_ndim("y", y, 1)
    C.check_shape("score", score, y.shape)
    C.check_finite("y", y)
    C.check_finite("score", score)
    sigma = C.check_positive_scalar("sigma", sigma)
    return y + sigma**2 * score
