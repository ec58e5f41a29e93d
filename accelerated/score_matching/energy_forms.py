"""Implicit and sliced score matching written for an energy E (s = -grad E), in PyTorch.

Same formulas, names and parameters as :mod:`reference.score_matching.energy_forms`: Beigy,
Score-Based Generative Models, 'Score Matching (SM)' and 'Denoising Score Matching (DSM)': the energy
forms, with the slides' typos corrected as each function's Notes say. The energy is any callable
(n, d) -> (n,), differentiated by ``torch.func``; see :mod:`accelerated.score_matching`.
"""

from __future__ import annotations

import torch

import reference._args.langevin as AL

from .. import _checks as C
from ._common import Model, _checked, _half_squared_norm_mean, _probes, _samples
from .implicit import _probe_quadratic_forms, _scores_and_trace

__all__ = ["implicit_score_matching_energy", "sliced_score_matching_energy"]


def _check_energy_objective(energy: object, x: object) -> torch.Tensor:
    """Points (n, d) and a callable energy (n, d) -> (n,), differentiated here by autograd."""
    AL.function("energy", energy, "mapping points (n, d) to energies (n,) (e.g. QuadraticEnergy, an nn.Module)")
    x = _samples("x", x)
    if x.ndim != 2:
        raise ValueError(
            f"x: expected points of shape (n, d) (an energy maps (n, d) to (n,)), got shape {tuple(x.shape)}"
        )
    C.check_finite("x", x)
    return x


def _energy_score(energy: Model) -> Model:
    """The score model s = -grad_x E of an energy, as a ``torch.func`` transform (composable with vjp and vmap).

    Samples are independent, so the gradient of the summed energies is the per-sample gradient.
    """

    def total(z: torch.Tensor) -> torch.Tensor:
        e = energy(z)
        if not isinstance(e, torch.Tensor) or tuple(e.shape) != tuple(z.shape[:-1]):
            got = f"shape {tuple(e.shape)}" if isinstance(e, torch.Tensor) else C.describe(e)
            raise ValueError(f"energy(x): expected one energy per point, shape {tuple(z.shape[:-1])}, got {got}")
        return e.sum()

    grad = torch.func.grad(total)
    return lambda z: -grad(z)


def implicit_score_matching_energy(energy: Model, x: torch.Tensor) -> torch.Tensor:
    r"""Implicit score matching for an energy E: the mean of 1/2 ||grad E||^2 - tr(hess E), with s = -grad E.

    .. math::

        \frac1n \sum_k \Bigl[\frac12 \lVert \nabla E(x_k)\rVert^2 - \operatorname{tr}\nabla^2 E(x_k)\Bigr].

    :func:`implicit_score_matching` of the score model :math:`s = -\nabla E` (the gradient by
    ``torch.func.grad``, the exact Hessian trace by the d vmapped pullbacks of :func:`jacobian_trace`).
    See :func:`reference.score_matching.implicit_score_matching_energy`.

    Parameters
    ----------
    energy : callable
        Energy (n, d) -> (n,), differentiable twice in x (e.g. :class:`accelerated.energy.QuadraticEnergy`).
    x : (n, d) Tensor
        Samples, finite.

    Returns
    -------
    () Tensor
        The estimate, differentiable in the energy's parameters.

    Notes
    -----
    Beigy's slide squares the second derivative and gives it the wrong sign,
    :math:`\frac12 \sum_i (\partial_i E)^2 + (\partial_i^2 E)^2`; the correct form is
    :math:`\frac12 \sum_i (\partial_i E)^2 - \partial_i^2 E` (:math:`\log p = -E - \log Z`). A
    non-finite estimate is refused device-side with a ``ValueError``, as on the reference side.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (the objective in terms of E_theta);
    Hyvarinen, JMLR 6 (2005); Song and Kingma, How to Train Your Energy-Based Models, 2021, Section 4.1.

    Examples
    --------
    E = x^2 / 2 at x = 2: 1/2 * 2^2 - 1 = 1 (by hand):

    >>> float(implicit_score_matching_energy(lambda x: 0.5 * (x**2).sum(-1), torch.tensor([[2.0]])))
    1.0
    """
    x = _check_energy_objective(energy, x)
    s, trace = _scores_and_trace(_energy_score(energy), x, None, "vmap")  # s = -grad E, trace = -tr hess E
    acc = C.accumulation_dtype(s.dtype)
    return _checked(_half_squared_norm_mean(s) + trace.to(acc).mean(), (("x", x), ("energy.grad(x)", s)))


def sliced_score_matching_energy(
    energy: Model,
    x: torch.Tensor,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sliced score matching for an energy E: the mean of 1/2 (v^T grad E)^2 - v^T (hess E) v, with s = -grad E.

    .. math::

        \frac1{nM} \sum_{k,j} \Bigl[\frac12 (v_{kj}^\top \nabla E(x_k))^2 - v_{kj}^\top \nabla^2 E(x_k)\, v_{kj}\Bigr].

    :func:`sliced_score_matching` of :math:`s = -\nabla E`: the Hessian-vector products
    :math:`v^\top \nabla^2 E\, v` are one vector-Jacobian product of the autograd gradient per batch
    of probes. See :func:`reference.score_matching.sliced_score_matching_energy`.

    Parameters
    ----------
    energy : callable
        Energy (n, d) -> (n,), differentiable twice in x.
    x : (n, d) Tensor
        Samples, finite.
    n_projections, kind, noise, rng
        As in :func:`sliced_score_matching` (probes (M, n, d)).

    Returns
    -------
    () Tensor
        The estimate, differentiable in the energy's parameters.

    Notes
    -----
    Beigy's slide writes :math:`\frac12 \sum_i (\partial_i E\, v_i)^2 + \sum_{ij} \partial_{ij} E\, v_i v_j`:
    the Hessian term's sign is wrong and the first term must be the square of the sum,
    :math:`\frac12 (v^\top \nabla E)^2`. A non-finite estimate is refused device-side.

    References
    ----------
    Beigy, Score-Based Generative Models, slides 'Denoising Score Matching (DSM)' (the sliced Fisher
    divergence in terms of E_theta); Advanced Course on DGM, Lecture 8, slide 'Sliced Score Matching';
    Song, Garg, Shi, Ermon, UAI 2019.

    Examples
    --------
    E = x^2 / 2 at x = 2 with v = 1: 1/2 * 2^2 - 1 = 1 (by hand):

    >>> E = lambda x: 0.5 * (x**2).sum(-1)
    >>> float(sliced_score_matching_energy(E, torch.tensor([[2.0]]), noise=torch.ones(1, 1, 1)))
    1.0
    """
    x = _check_energy_objective(energy, x)
    v = _probes(x, "n_projections", n_projections, kind, noise, rng)
    s, vJv = _probe_quadratic_forms(_energy_score(energy), x, v)  # vJv = -v^T hess E v
    acc = C.accumulation_dtype(s.dtype)
    vs = (s.to(acc) * v.to(acc)).sum(-1)  # (M, n): v^T s = -v^T grad E
    value = (0.5 * vs.square() + vJv.to(acc)).mean()
    return _checked(value, (("x", x), ("noise", v), ("energy.grad(x)", s)))
