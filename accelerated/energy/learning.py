"""Maximum-likelihood learning of an EBM in PyTorch: the contrastive-divergence loss and the log-likelihood gradient.

Same formulas as :mod:`reference.energy.learning` (Beigy, 'Introduction', the EBM slide; Advanced Course
on DGM, Lecture 8, 'Learning Energy Based Models'). Here the gradient is autograd's: of the surrogate
loss :func:`contrastive_divergence_loss` (negatives given) or of -mean E(x) - log Z (log Z by the
quadrature of :func:`log_partition_function`, whose autograd gradient is -E_p[grad E] on the grid).
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _checks as C
from .density import QuadraticEnergy, _check_points, log_partition_function  # noqa: F401  (QuadraticEnergy: doctests)

__all__ = ["contrastive_divergence_loss", "log_likelihood_gradient"]


def _check_energy_batch(name: str, energy: object) -> torch.Tensor:
    E = C.as_float_tensor(name, energy)
    if E.ndim != 1 or E.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty vector of energies of shape (n,), got shape {tuple(E.shape)}")
    C.check_finite(name, E)
    return E


def contrastive_divergence_loss(energy_pos: torch.Tensor, energy_neg: torch.Tensor) -> torch.Tensor:
    r"""The contrastive-divergence surrogate loss mean E(x^+) - mean E(x^-) (see the reference).

    .. math::

        \mathcal L_{CD}(\theta) = \frac1n \sum_k E_\theta(x_k^+) - \frac1m \sum_j E_\theta(x_j^-),

    whose autograd gradient is minus the log-likelihood gradient with the model expectation estimated
    by the negatives: build ``energy_neg`` from detached negatives (Langevin samples), then
    ``loss.backward()`` and an optimiser step is one step of maximum-likelihood training.

    Parameters
    ----------
    energy_pos : (n,) Tensor
        Energies of the data, finite, n >= 1.
    energy_neg : (m,) Tensor
        Energies of the negatives, finite, m >= 1; same dtype and device.

    Returns
    -------
    () Tensor
        The loss, differentiable in both inputs.

    Notes
    -----
    Finiteness of the inputs and of the loss is asserted on the device (no host read); a loss that
    overflows is refused with a ``ValueError`` naming the inputs, as on the reference.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Introduction' (the EBM slide); Advanced Course on DGM,
    Lecture 8, slide 'Learning Energy Based Models'; Hinton, 2002; Du and Mordatch, 2019.

    Examples
    --------
    Data energies 1 and 3, negative energies 0 and 0.5: 2 - 0.25 = 1.75 (closed form):

    >>> float(contrastive_divergence_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.5])))
    1.75
    """
    E_pos = _check_energy_batch("energy_pos", energy_pos)
    E_neg = _check_energy_batch("energy_neg", energy_neg)
    C.check_same_device_dtype(("energy_pos", "energy_neg"), (E_pos, E_neg))
    loss = E_pos.mean() - E_neg.mean()
    return C.check_result(loss, (("energy_pos", E_pos), ("energy_neg", E_neg)))


def _check_batch(name: str, x: object) -> torch.Tensor:
    x = _check_points(name, x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty batch of shape (n, d), got shape {tuple(x.shape)}")
    return x


def log_likelihood_gradient(
    energy: nn.Module,
    x: torch.Tensor,
    negatives: torch.Tensor | None = None,
    *,
    lower: torch.Tensor | None = None,
    upper: torch.Tensor | None = None,
    n_points: int = 201,
) -> tuple[torch.Tensor, ...]:
    r"""The EBM log-likelihood gradient in the parameters by autograd (see the reference).

    .. math::

        \nabla_\theta \frac1n \sum_k \log p_\theta(x_k) = -\frac1n \sum_k \nabla_\theta E_\theta(x_k)
        + \mathbb E_{p_\theta}[\nabla_\theta E_\theta],

    the expectation from ``negatives`` (autograd of -:func:`contrastive_divergence_loss`) or, in
    d <= 2, from the quadrature grid (autograd of -mean E(x) - :func:`log_partition_function`).

    Parameters
    ----------
    energy : nn.Module
        Any energy module with parameters, mapping (m, d) to (m,) (e.g. :class:`QuadraticEnergy`).
    x : (n, d) Tensor
        Data, finite, n >= 1.
    negatives : (m, d) Tensor, optional
        Model samples (detached here), finite, m >= 1. Give either ``negatives`` or the box.
    lower, upper : () or (d,) Tensor, optional
        The quadrature box, as in :func:`log_partition_function`.
    n_points : int
        Grid points per axis for the quadrature.

    Returns
    -------
    tuple of Tensor
        One gradient per parameter in ``energy.parameters()`` order (for :class:`QuadraticEnergy`:
        precision, mean). Ascend it to raise the likelihood.

    Notes
    -----
    Both ``negatives`` and a box, or neither, is a ``ValueError``. Under grad mode the gradients keep
    their graph (``create_graph=True``), so a loss of them can be backpropagated; under
    ``torch.no_grad()`` they are plain tensors. Non-finite gradients are refused on the device.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Introduction' (the EBM slide); Advanced Course on DGM,
    Lecture 8, slide 'Learning Energy Based Models', slide 'Energy Based Models'; Hinton, 2002; Du and
    Mordatch, 2019.

    Examples
    --------
    E = x^2 / 2, data x = 2: (-1.5, 2) for the precision and the mean (the reference's closed form):

    >>> E = QuadraticEnergy(torch.eye(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    >>> x, neg = torch.tensor([[2.0]], dtype=torch.float64), torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    >>> g_P, g_m = log_likelihood_gradient(E, x, neg)
    >>> float(g_P[0, 0].detach()), float(g_m[0].detach())
    (-1.5, 2.0)
    """
    if not isinstance(energy, nn.Module):
        raise TypeError(f"energy: expected an nn.Module energy with parameters, got {C.describe(energy)}")
    params = [p for p in energy.parameters() if p.requires_grad]
    if not params:
        raise TypeError("energy: expected an nn.Module energy with parameters that require grad, got none")
    x = _check_batch("x", x).detach()
    box = lower is not None or upper is not None
    if (negatives is None) == (not box):
        raise ValueError("negatives, lower, upper: give either negatives (m, d) or the quadrature box, not both")
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        E_x = energy(x)
        if negatives is not None:
            neg = _check_batch("negatives", negatives).detach()
            C.check_same_device_dtype(("x", "negatives"), (x, neg))
            C.check_same_last_dim(("x", "negatives"), (x, neg))
            log_lik = -contrastive_divergence_loss(E_x, energy(neg))
        else:
            if lower is not None and isinstance(lower, torch.Tensor):
                d_box = 1 if lower.ndim == 0 else lower.shape[0]
                if d_box != x.shape[1]:
                    raise ValueError(f"lower: expected a box of dimension {x.shape[1]} (the data's), got {d_box}")
            log_lik = -_check_energy_batch("energy(x)", E_x).mean() - log_partition_function(
                energy, lower, upper, n_points=n_points
            )
        grads = torch.autograd.grad(log_lik, params, create_graph=create_graph)
    return tuple(C.check_result(g, (("x", x),)) for g in grads)
