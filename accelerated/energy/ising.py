"""The Ising denoising example in PyTorch: log-potentials, all 2^(H W) states, exact MAP denoising.

Same formulas as :mod:`reference.energy.ising` (Advanced Course on DGM, Lecture 8, 'Example: Ising
Model'); all states at once on the device of ``x``, float64 potentials and int64 images.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

import reference._args as A
from reference._args import energy as AE

from .. import _checks as C

__all__ = ["IsingPosterior", "ising_denoise", "ising_log_potential", "ising_states"]

F64 = torch.float64


def _check_binary_image(name: str, y: object) -> torch.Tensor:
    """A real tensor of shape (..., H, W) with entries in {0, 1} (bool, integer or 0/1 floating; the
    values by a device assertion, skipped with value checks off)."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name}: expected a binary image tensor (bool, int or float 0/1), got {C.describe(y)}")
    if y.is_complex():
        raise TypeError(f"{name}: expected a real binary image tensor, got {C.describe(y)}")
    if y.ndim < 2:
        raise ValueError(f"{name}: expected images of shape (..., H, W), got shape {tuple(y.shape)}")
    AE.image_size(name, tuple(y.shape))
    if C.value_checks_active() and y.numel():

        def detail() -> str:
            bad = y[(y != 0) & (y != 1)]
            return (
                f"{name}: expected pixel values in {{0, 1}}, got {bad.numel()} other values "
                f"(e.g. {bad.flatten()[0].item()!r})"
            )

        C.require(((y == 0) | (y == 1)).all(), f"{name}: expected pixel values in {{0, 1}}", detail)
    return y


def _check_ising(y: object, x: object, alpha: object, beta: object) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Clean and observed binary images of one size (H, W) on one device whose batch shapes broadcast,
    and real weights."""
    alpha, beta = A.real("alpha", alpha), A.real("beta", beta)
    for name, t in (("y", y), ("x", x)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a binary image tensor (bool, int or float 0/1), got {C.describe(t)}")
    if y.device != x.device:
        raise ValueError(f"y, x: expected tensors on one device, got y on {y.device}, x on {x.device}")
    y, x = _check_binary_image("y", y), _check_binary_image("x", x)
    if y.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"y, x: expected images of one size (H, W), got shapes {tuple(y.shape)} and {tuple(x.shape)}")
    C.broadcast_batch(("y", "x"), (y.shape[:-2], x.shape[:-2]))
    return y, x, alpha, beta


def _check_denoise(x: object, alpha: object, beta: object) -> tuple[torch.Tensor, float, float]:
    """Observed binary images small enough to enumerate (H W <= 16), and real weights."""
    alpha, beta = A.real("alpha", alpha), A.real("beta", beta)
    x = _check_binary_image("x", x)
    AE.enumerable("x", *x.shape[-2:])
    return x, alpha, beta


def _n_smooth(y: torch.Tensor) -> torch.Tensor:
    """Number of equal 4-neighbour pairs, float64; (..., H, W) -> (...)."""
    horizontal = (y[..., :, 1:] == y[..., :, :-1]).sum(dim=(-2, -1))
    vertical = (y[..., 1:, :] == y[..., :-1, :]).sum(dim=(-2, -1))
    return (horizontal + vertical).to(F64)


def ising_log_potential(y: torch.Tensor, x: torch.Tensor, *, alpha: float, beta: float) -> torch.Tensor:
    r"""Ising denoising log-potential alpha #[x_i = y_i] + beta #[y_i = y_j] over 4-neighbour edges.

    .. math::

        \log \tilde p(y, x) = \sum_i \alpha\,[x_i = y_i] + \sum_{(i, j) \in E} \beta\,[y_i = y_j],
        \qquad y, x \in \{0, 1\}^{H \times W}.

    Parameters
    ----------
    y, x : (..., H, W) Tensor
        Binary images (bool, integer or 0/1 floating), same device; batch axes broadcast.
    alpha, beta : float
        Potential weights.

    Returns
    -------
    (...) Tensor
        float64 on the images' device.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model'.

    Examples
    --------
    y = x = the 3x3 zero image: 9 agreeing pixels and 12 equal neighbour pairs, 9 alpha + 12 beta:

    >>> float(ising_log_potential(torch.zeros(3, 3), torch.zeros(3, 3), alpha=1.5, beta=0.5))
    19.5
    """
    y, x, alpha, beta = _check_ising(y, x, alpha, beta)
    n_agree = (x.to(F64) == y.to(F64)).sum(dim=(-2, -1)).to(F64)
    return alpha * n_agree + beta * _n_smooth(y.to(F64))


def ising_states(height: int, width: int) -> torch.Tensor:
    """All 2^(H W) binary images (2^(H W), H, W) int64 on the CPU; state k has pixel i = bit i of k.

    Parameters
    ----------
    height, width : int
        Image size, H W <= 16 (Python or NumPy integers).

    Returns
    -------
    (2^(H W), H, W) Tensor of int64

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model' (the states the posterior sums over).

    Examples
    --------
    A 3x3 image has 2^9 = 512 states; state 1 lights pixel (0, 0) only (bit 0):

    >>> states = ising_states(3, 3)
    >>> list(states.shape), states[1].tolist()
    ([512, 3, 3], [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    """
    H, W = AE.ising_size(height, width)
    return _states(H, W, torch.device("cpu"))


def _states(height: int, width: int, device: torch.device) -> torch.Tensor:
    N = height * width
    k = torch.arange(2**N, dtype=torch.int64, device=device)
    bits = (k[:, None] >> torch.arange(N, dtype=torch.int64, device=device)) & 1
    return bits.reshape(2**N, height, width)


class IsingPosterior(NamedTuple):
    """Result of :func:`ising_denoise` (tensors on the device of ``x``).

    Examples
    --------
    With beta = 0 the pixels are independent: the MAP is x itself:

    >>> ising_denoise(torch.eye(2), alpha=1.0, beta=0.0).y.tolist()
    [[1, 0], [0, 1]]
    """

    y: torch.Tensor
    """(..., H, W) int64: the MAP image (the lowest state index among ties)."""
    probability: torch.Tensor
    """(...) float64: p(y_MAP | x)."""
    posterior: torch.Tensor
    """(..., 2^(H W)) float64: p(y | x) for every state of :func:`ising_states`."""


def ising_denoise(x: torch.Tensor, *, alpha: float, beta: float) -> IsingPosterior:
    r"""Exact MAP denoising under the Ising model, all 2^(H W) states at once (see the reference).

    .. math::

        p(y \mid x) = \operatorname{softmax}_y
            \bigl(\alpha\, n_{\text{agree}}(y, x) + \beta\, n_{\text{smooth}}(y)\bigr),
        \qquad n_{\text{agree}} = x \cdot s + (1 - x) \cdot (1 - s),

    ties resolved towards the lowest state index.

    Parameters
    ----------
    x : (..., H, W) Tensor
        Observed binary images, H W <= 16.
    alpha, beta : float
        Potential weights.

    Returns
    -------
    IsingPosterior
        ``(y, probability, posterior)`` on the device of ``x``.

    Notes
    -----
    The agreement counts of every observed image with every state s come from two float64 matrix
    products of 0/1 matrices (exact integers), so the potentials equal the reference's bit for bit
    and ties resolve the same way.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model'.

    Examples
    --------
    The worked example: two rows of ones over a row of zeros, centre flipped; alpha = 4,
    beta = 3 lies in (alpha / 2, alpha), so the MAP restores the edge image y*:

    >>> x = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 0, 0]])
    >>> ising_denoise(x, alpha=4.0, beta=3.0).y.tolist()
    [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    """
    x, alpha, beta = _check_denoise(x, alpha, beta)
    H, W = x.shape[-2:]
    states = _states(H, W, x.device)  # (S, H, W)
    s = states.reshape(states.shape[0], H * W).to(F64)  # (S, N)
    xf = x.reshape(*x.shape[:-2], H * W).to(F64)  # (..., N)
    n_agree = xf @ s.mT + (1.0 - xf) @ (1.0 - s).mT  # (..., S), exact integers
    log_p = alpha * n_agree + beta * _n_smooth(states)
    posterior = torch.softmax(log_p, dim=-1)
    k = torch.argmax(log_p, dim=-1)
    probability = torch.gather(posterior, -1, k[..., None])[..., 0]
    return IsingPosterior(states[k], probability, posterior)
