"""The Ising denoising example: log-potentials of binary images, all 2^(H W) states, exact MAP denoising.

Slide: Advanced Course on DGM, Lecture 8, 'Example: Ising Model' (denoising a 3x3 binary image by
maximising p(y | x)).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

import reference._args as A
from reference._args import energy as AE

from .. import _checks as C

__all__ = ["IsingPosterior", "ising_denoise", "ising_log_potential", "ising_states"]


def _check_binary_image(name: str, y: object) -> np.ndarray:
    """An int64 array of shape (..., H, W) with entries in {0, 1} (bool, int or float input)."""
    arr = np.asarray(y)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a binary image array (bool, int or float 0/1), got {C.describe(arr)}")
    if arr.ndim < 2:
        raise ValueError(f"{name}: expected images of shape (..., H, W), got shape {arr.shape}")
    AE.image_size(name, arr.shape)
    if not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)]
        raise ValueError(
            f"{name}: expected pixel values in {{0, 1}}, got {bad.size} other values (e.g. {bad.flat[0]!r})"
        )
    return arr.astype(np.int64)


def _check_ising(y: object, x: object, alpha: object, beta: object) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Clean and observed binary images of one size (H, W) whose batch shapes broadcast, and real weights."""
    alpha, beta = A.real("alpha", alpha), A.real("beta", beta)
    y, x = _check_binary_image("y", y), _check_binary_image("x", x)
    if y.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"y, x: expected images of one size (H, W), got shapes {y.shape} and {x.shape}")
    C.broadcast_batch(("y", "x"), (y.shape[:-2], x.shape[:-2]))
    return y, x, alpha, beta


def _check_denoise(x: object, alpha: object, beta: object) -> tuple[np.ndarray, float, float]:
    """Observed binary images small enough to enumerate (H W <= 16), and real weights."""
    alpha, beta = A.real("alpha", alpha), A.real("beta", beta)
    x = _check_binary_image("x", x)
    AE.enumerable("x", *x.shape[-2:])
    return x, alpha, beta


def _n_smooth(y: np.ndarray) -> np.ndarray:
    """Number of 4-neighbour edges (i, j) with y_i = y_j; (..., H, W) -> (...)."""
    horizontal = np.sum(y[..., :, 1:] == y[..., :, :-1], axis=(-2, -1))
    vertical = np.sum(y[..., 1:, :] == y[..., :-1, :], axis=(-2, -1))
    return horizontal + vertical


def ising_log_potential(y: np.ndarray, x: np.ndarray, *, alpha: float, beta: float) -> np.ndarray:
    r"""Log-potential of the Ising denoising model, :math:`\log p(y, x) + \log Z`, for binary images.

    .. math::

        \log \tilde p(y, x) = \sum_i \psi_i(x_i, y_i) + \sum_{(i, j) \in E} \psi_{ij}(y_i, y_j),
        \qquad \psi_i = \alpha\,[x_i = y_i], \quad \psi_{ij} = \beta\,[y_i = y_j],

    with pixel values in {0, 1} (the slide's parametrisation) and E the 4-neighbour edges of the
    H x W grid (12 edges for 3x3). alpha > 0 rewards agreement with the observation, beta > 0
    rewards smooth images. Computed as alpha * (number of agreeing pixels) + beta * (number of equal
    neighbour pairs), exactly the same float64 operations on both sides.

    Parameters
    ----------
    y : (..., H, W) array_like
        Clean images, entries 0 or 1 (bool, int or float).
    x : (..., H, W) array_like
        Observed (corrupted) images; batch axes broadcast with ``y``'s.
    alpha, beta : float
        Potential weights, finite reals.

    Returns
    -------
    (...) ndarray
        The log-potential (float64).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model'.

    Examples
    --------
    y = x = the 3x3 zero image: 9 agreeing pixels and 12 equal neighbour pairs, 9 alpha + 12 beta:

    >>> float(ising_log_potential(np.zeros((3, 3)), np.zeros((3, 3)), alpha=1.5, beta=0.5))
    19.5
    """
    y, x, alpha, beta = _check_ising(y, x, alpha, beta)
    n_agree = np.sum(x == y, axis=(-2, -1)).astype(np.float64)
    return alpha * n_agree + beta * _n_smooth(y).astype(np.float64)


def ising_states(height: int, width: int) -> np.ndarray:
    """All 2^(H W) binary images, shape (2^(H W), H, W); state k has pixel i (row-major) = bit i of k.

    Parameters
    ----------
    height, width : int
        Image size, H W <= 16.

    Returns
    -------
    (2^(H W), H, W) ndarray of int64

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model' (the states the posterior sums over).

    Examples
    --------
    A 3x3 image has 2^9 = 512 states; state 1 lights pixel (0, 0) only (bit 0):

    >>> states = ising_states(3, 3)
    >>> states.shape, states[1].tolist()
    ((512, 3, 3), [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    """
    H, W = AE.ising_size(height, width)
    N = H * W
    k = np.arange(2**N, dtype=np.int64)
    bits = (k[:, None] >> np.arange(N, dtype=np.int64)) & 1
    return bits.reshape(2**N, H, W)


class IsingPosterior(NamedTuple):
    """Result of :func:`ising_denoise`.

    Examples
    --------
    With beta = 0 the pixels are independent: the MAP is x itself:

    >>> ising_denoise(np.eye(2), alpha=1.0, beta=0.0).y.tolist()
    [[1, 0], [0, 1]]
    """

    y: np.ndarray
    """(..., H, W) int64: the MAP image argmax_y p(y | x) (the lowest state index among ties)."""
    probability: np.ndarray
    """(...) float64: its posterior probability p(y_MAP | x)."""
    posterior: np.ndarray
    """(..., 2^(H W)) float64: p(y | x) for every state y of :func:`ising_states`."""


def ising_denoise(x: np.ndarray, *, alpha: float, beta: float) -> IsingPosterior:
    r"""Denoise binary images by exact MAP under the Ising model: enumerate all 2^(H W) clean images.

    .. math::

        p(y \mid x) = \frac{\exp \log\tilde p(y, x)}{\sum_{y'} \exp \log\tilde p(y', x)}, \qquad
        \hat y = \arg\max_y p(y \mid x),

    with :func:`ising_log_potential` (Z cancels in the conditional). For a 3x3 image the sum has
    2^9 = 512 terms. Ties are broken towards the lowest state index (:func:`ising_states` order).

    Worked example (checked by the crosscheck theorem): the clean image y* with two rows of ones over
    a row of zeros (a horizontal edge), observed with its centre pixel flipped. Then
    :math:`\log\tilde p(y^*, x) = 8\alpha + 9\beta` and :math:`\log\tilde p(x, x) = 9\alpha + 7\beta`,
    and the all-ones image scores :math:`5\alpha + 12\beta`: the MAP is y* for
    alpha / 2 < beta < alpha, x itself for beta < alpha / 2 (beta = 0: no smoothing), and a constant
    image for beta > alpha (a 3x3 image is too small for an edge to survive strong smoothing).

    Parameters
    ----------
    x : (..., H, W) array_like
        Observed binary images (0/1), H W <= 16.
    alpha, beta : float
        Potential weights (see :func:`ising_log_potential`).

    Returns
    -------
    IsingPosterior
        ``(y, probability, posterior)``.

    Notes
    -----
    The posterior is a stable softmax over the states (no overflow of exp for large weights).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model' ("maximize p(y | x)").

    Examples
    --------
    The worked example: two rows of ones over a row of zeros, centre flipped; alpha = 4,
    beta = 3 lies in (alpha / 2, alpha), so the MAP restores the edge image y*:

    >>> x = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 0]])
    >>> ising_denoise(x, alpha=4.0, beta=3.0).y.tolist()
    [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    """
    x, alpha, beta = _check_denoise(x, alpha, beta)
    H, W = x.shape[-2:]
    states = ising_states(H, W)  # (S, H, W)
    log_p = ising_log_potential(states, x[..., None, :, :], alpha=alpha, beta=beta)  # (..., S)
    posterior = special.softmax(log_p, axis=-1)
    k = np.argmax(log_p, axis=-1)
    probability = np.take_along_axis(posterior, k[..., None], axis=-1)[..., 0]
    return IsingPosterior(states[k], probability, posterior)
