r"""Feature statistics: the mean and unbiased covariance FID fits, one-shot and streaming, and their files.

Slides implemented: Advanced Course on DGM, Lecture 8, 'Computing FID' ("fit a multivariate
Gaussian" to the features); Isachenko, DGM Lecture 7, 'Frechet Inception Distance (FID)'. The
streaming form is Chan, Golub and LeVeque's pairwise combination (COMPSTAT 1982).

One-sided names: ``save_statistics`` and ``load_statistics`` (they read and write NumPy ``.npz``
files; one implementation of a file format is enough, it accepts CPU tensors, and the accelerated
command line uses it).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from .. import _args as A
from .. import _checks as C
from .._args import metrics as M
from ._common import _features

__all__ = ["FeatureStatistics", "StreamingStatistics", "feature_statistics", "load_statistics", "save_statistics"]


class FeatureStatistics(NamedTuple):
    """Mean, unbiased covariance and sample count of a feature set (the Gaussian FID fits).

    Examples
    --------
    The statistics of the rows 1, 2, 3: mean 2, unbiased variance ((-1)^2 + 0 + 1^2) / 2 = 1:

    >>> s = FeatureStatistics(np.array([2.0]), np.array([[1.0]]), 3)
    >>> s.mu.tolist(), s.sigma.tolist(), s.n
    ([2.0], [[1.0]], 3)
    """

    mu: np.ndarray
    """(d,) sample mean."""
    sigma: np.ndarray
    """(d, d) unbiased sample covariance (divisor n - 1), exactly symmetric."""
    n: int
    """Number of samples (0 when loaded from a file that does not record it)."""


def feature_statistics(features: np.ndarray) -> FeatureStatistics:
    r"""Sample mean and unbiased sample covariance of a feature set.

    .. math::

        \mu = \frac1n \sum_{i=1}^n x_i, \qquad
        \Sigma = \frac{1}{n-1} \sum_{i=1}^n (x_i - \mu)(x_i - \mu)^\top.

    Parameters
    ----------
    features : (n, d) array_like
        One sample per row, n >= 2, finite.

    Returns
    -------
    FeatureStatistics
        ``mu`` (d,), ``sigma`` (d, d), ``n``.

    Notes
    -----
    Computed by the two-pass formula (centre first, then multiply), which loses no digits to the
    cancellation of :math:`\sum x x^\top - n \mu\mu^\top`; the product is symmetrised exactly.

    Features whose mean or centred products overflow float64 (entries around 1e154 and beyond, whose
    squares exceed 1.8e308) are refused with a ``ValueError`` naming ``features``, rather than
    returning an infinite or NaN covariance.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Computing FID' ("fit a multivariate Gaussian");
    Isachenko, DGM Lecture 7, slide 'Frechet Inception Distance (FID)'.

    Examples
    --------
    Rows 1, 2, 3: mean 2, unbiased variance ((-1)^2 + 0^2 + 1^2) / (3 - 1) = 1 (the definition):

    >>> s = feature_statistics(np.array([[1.0], [2.0], [3.0]]))
    >>> s.mu.tolist(), s.sigma.tolist(), s.n
    ([2.0], [[1.0]], 3)
    """
    return _statistics("features", _features("features", features, min_rows=2))


def _statistics(name: str, x: np.ndarray) -> FeatureStatistics:
    """:func:`feature_statistics` of checked features ``x``; a ValueError naming ``name`` if they overflow."""
    n = x.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        mu = x.mean(axis=0)
        centred = x - mu
        sigma = centred.T @ centred / (n - 1)
    _check_no_overflow(name, mu, sigma)
    return FeatureStatistics(mu, 0.5 * (sigma + sigma.T), n)


def _check_no_overflow(name: str, mean: np.ndarray, m2: np.ndarray) -> None:
    if not (np.isfinite(mean).all() and np.isfinite(m2).all()):
        raise ValueError(f"{name}: {M.OVERFLOW}")


class StreamingStatistics:
    r"""Mean and covariance accumulated over batches, mergeable across workers (Chan et al.).

    Keeps the count :math:`n`, the mean :math:`\mu` and the co-moment matrix
    :math:`M_2 = \sum_i (x_i - \mu)(x_i - \mu)^\top`. A batch (or another accumulator) with
    :math:`(n_b, \mu_b, M_{2,b})` is combined with the pairwise update

    .. math::

        n = n_a + n_b,\quad \delta = \mu_b - \mu_a,\quad
        \mu = \mu_a + \delta \frac{n_b}{n},\quad
        M_2 = M_{2,a} + M_{2,b} + \delta\delta^\top \frac{n_a n_b}{n},

    where each batch's own :math:`(\mu_b, M_{2,b})` is computed by the two-pass formula. The result of
    :meth:`finalize` equals :func:`feature_statistics` of all rows seen, for any batching, up to
    rounding.

    Parameters
    ----------
    dim : int
        Feature dimension d.

    Notes
    -----
    Methods: ``update(batch)`` and ``merge(other)`` (both in place, returning ``self``),
    ``finalize()`` and ``reset()`` (forget every row). The accelerated twin adds
    ``all_reduce(group=None)`` over ``torch.distributed``. Rounding: a few ulp, since no sum of
    squares is ever formed around zero.

    Safeguards: ``dim`` is at most ``MAX_STREAMING_DIM`` = 65536 (a 32 GiB co-moment matrix;
    :data:`reference._args.metrics.MAX_STREAMING_DIM`), and an allocation that fails is a
    ``ValueError`` naming ``dim``. A batch (or a merged accumulator) whose rows would make the mean
    or the co-moments overflow float64 is refused with a ``ValueError`` naming ``batch`` (or
    ``other``), and the accumulator keeps its previous state, so ``finalize`` never returns a NaN
    or infinite covariance.

    References
    ----------
    Chan, Golub, LeVeque, Updating formulae and a pairwise algorithm for computing sample variances,
    COMPSTAT 1982 (the pairwise combination); Advanced Course on DGM, Lecture 8, slide 'Computing FID'.

    Examples
    --------
    Rows 1, 2 in one batch and 3 in another give the one-shot statistics of 1, 2, 3 (mean 2, variance 1):

    >>> s = StreamingStatistics(1).update(np.array([[1.0], [2.0]])).update(np.array([[3.0]])).finalize()
    >>> s.mu.tolist(), s.sigma.tolist(), s.n
    ([2.0], [[1.0]], 3)
    """

    def __init__(self, dim: int):
        self.dim = M.check_dim(dim)
        self.reset()

    def reset(self) -> StreamingStatistics:
        """Forget every row: the state of a new accumulator; returns ``self``."""
        self.n = 0
        try:
            self.mean = np.zeros(self.dim)
            self.m2 = np.zeros((self.dim, self.dim))
        except MemoryError as err:
            raise ValueError(
                f"dim: cannot allocate the ({self.dim}, {self.dim}) float64 co-moment matrix of dim = {self.dim}"
            ) from err
        return self

    def __repr__(self) -> str:
        return f"StreamingStatistics(dim={self.dim}, n={self.n})"

    def _combine(self, name: str, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        if n_b == 0:
            return
        n_a = self.n
        n = n_a + n_b
        if n_a == 0:  # no delta term: delta * delta could overflow although it is multiplied by n_a = 0
            mean, m2 = mean_b.copy(), m2_b.copy()
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                delta = mean_b - self.mean
                mean = self.mean + delta * (n_b / n)
                m2 = self.m2 + m2_b + np.outer(delta, delta) * (n_a * n_b / n)
        _check_no_overflow(name, mean, m2)  # before any change: a refused batch leaves the state as it was
        self.n, self.mean, self.m2 = n, mean, m2

    def update(self, batch: np.ndarray) -> StreamingStatistics:
        """Add the rows of ``batch`` ((b, dim), finite; b = 0 is allowed and changes nothing)."""
        x = C.as_float64("batch", batch)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"batch: expected shape (b, {self.dim}), got shape {x.shape}")
        C.check_finite("batch", x)
        if x.shape[0] == 0:
            return self
        with np.errstate(over="ignore", invalid="ignore"):
            mean_b = x.mean(axis=0)
            centred = x - mean_b
            m2_b = centred.T @ centred
        self._combine("batch", x.shape[0], mean_b, m2_b)
        return self

    def merge(self, other: StreamingStatistics) -> StreamingStatistics:
        """Add everything ``other`` has seen (Chan et al.'s pairwise combination); ``other`` is unchanged."""
        if not isinstance(other, StreamingStatistics):
            raise TypeError(f"other: expected a reference StreamingStatistics, got {C.describe(other)}")
        if other.dim != self.dim:
            raise ValueError(f"other: expected dim = {self.dim}, got an accumulator with dim = {other.dim}")
        self._combine("other", other.n, other.mean, other.m2)
        return self

    def finalize(self) -> FeatureStatistics:
        """The statistics of every row seen so far (needs at least two rows)."""
        if self.n < 2:
            raise ValueError(f"finalize: the unbiased covariance needs at least 2 rows, got n = {self.n}")
        sigma = self.m2 / (self.n - 1)
        return FeatureStatistics(self.mean.copy(), 0.5 * (sigma + sigma.T), self.n)


def save_statistics(path: str | os.PathLike, stats: FeatureStatistics) -> None:
    """Write feature statistics to an uncompressed ``.npz`` file with float64 arrays ``mu``, ``sigma`` and ``n``.

    The keys ``mu`` and ``sigma`` are those of pytorch-fid and clean-fid, so their files load here and
    ours load there.

    Parameters
    ----------
    path : str or os.PathLike
    stats : FeatureStatistics
        ``mu`` (d,), ``sigma`` (d, d), ``n`` (int; 0 if unknown).

    Notes
    -----
    Tensors on the CPU are accepted (``numpy.asarray`` reads them); move CUDA tensors to the CPU
    first. NumPy appends ``.npz`` to a path without that suffix.

    References
    ----------
    The statistics files of pytorch-fid and clean-fid (keys ``mu`` and ``sigma``) (beyond the slides: storage,
    not a formula).

    Examples
    --------
    A round trip keeps the statistics of rows 1, 2, 3 (mean 2, variance 1) exactly:

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stats.npz"
    >>> save_statistics(path, feature_statistics(np.array([[1.0], [2.0], [3.0]])))
    >>> load_statistics(path).sigma.tolist()
    [[1.0]]
    """
    mu, sigma, n = _check_stats(stats)
    np.savez(path, mu=mu, sigma=sigma, n=np.int64(n))


def _check_stats(stats: object) -> tuple[np.ndarray, np.ndarray, int]:
    """(mu, sigma, n) of a FeatureStatistics-like triple: float64 (d,) and (d, d) arrays, a count n >= 0."""
    if not (isinstance(stats, tuple) and len(stats) == 3):
        raise TypeError(f"stats: expected a FeatureStatistics (mu, sigma, n), got {C.describe(stats)}")
    mu = C.as_float64("stats.mu", stats[0])
    sigma = C.as_float64("stats.sigma", stats[1])
    n = A.count("stats.n", stats[2].item() if hasattr(stats[2], "item") else stats[2], minimum=0)
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"stats: expected mu of shape (d,) and sigma of shape (d, d), got {mu.shape} and {sigma.shape}"
        )
    return mu, sigma, n


MAX_DIM = 8192
"""Largest feature dimension :func:`load_statistics` accepts by default: a 512 MiB float64 sigma (Inception: 2048)."""


def load_statistics(path: str | os.PathLike, *, max_dim: int = MAX_DIM) -> FeatureStatistics:
    r"""Read statistics written by :func:`save_statistics` (or by pytorch-fid / clean-fid: keys ``mu``, ``sigma``).

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` file with arrays ``mu`` (d,) and ``sigma`` (d, d), and optionally ``n``.
    max_dim : int, optional
        Largest feature dimension d accepted (default :data:`MAX_DIM` = 8192, a 512 MiB sigma; Inception
        features have d = 2048), so that a small compressed file cannot inflate to gigabytes.

    Returns
    -------
    FeatureStatistics
        float64 arrays; ``n = 0`` when the file does not record it.

    Notes
    -----
    Nothing is unpickled: an object array inside (which would run arbitrary code when unpickled) is
    refused with a ``ValueError``, never loaded. Every other problem of the file is a ``ValueError``
    too, naming the file and the problem: not a zip archive (empty, truncated, corrupted: a bad CRC or
    a compressed stream that does not decode), a missing key, a header that is not a plain numeric
    array, a shape other than ``mu`` (d,) and ``sigma`` (d, d) with ``1 <= d <= max_dim``, data
    shorter or longer than its header says, non-finite values, or a sigma that is not a covariance.
    The headers are read and checked before any data, so a header claiming billions of elements (or a
    small compressed file that would inflate to gigabytes) is refused without allocating it.

    ``sigma`` must be symmetric, :math:`|\Sigma - \Sigma^\top| \le \tau \max|\Sigma|`, and
    positive semi-definite, smallest eigenvalue :math:`\ge -\tau \max|\lambda|`, with
    :math:`\tau = \sqrt{\epsilon}` of the stored dtype (1.5e-8 for float64, 3.5e-4 for float32): far
    above the rounding of a computed covariance, far below any real asymmetry or negative variance. The
    accepted sigma is then symmetrised exactly, :math:`(\Sigma + \Sigma^\top)/2`.

    References
    ----------
    The statistics files of pytorch-fid and clean-fid (keys ``mu`` and ``sigma``) (beyond the slides: storage,
    not a formula).

    Examples
    --------
    A pytorch-fid file (keys ``mu`` and ``sigma``, no ``n``) loads with ``n = 0``:

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pytorch_fid.npz"
    >>> np.savez(path, mu=np.zeros(2), sigma=np.eye(2))
    >>> load_statistics(path).n
    0
    """
    max_dim = A.count("max_dim", max_dim)
    name = os.fspath(path)
    with open(path, "rb") as handle:  # FileNotFoundError and the like stay as they are
        if handle.read(6) == b"\x93NUMPY":
            raise ValueError(
                f"path: expected an .npz archive with arrays 'mu' and 'sigma', got a single array in {name}"
            )
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                arrays = _read_npz(name, archive, max_dim)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as err:
            raise ValueError(
                f"path: cannot read {name} as an .npz archive (empty, truncated or corrupted: {err})"
            ) from err
    mu = _finite_array(f"{name}: mu", arrays["mu"])
    sigma = _finite_array(f"{name}: sigma", arrays["sigma"])
    sigma = _check_covariance(name, sigma, arrays["sigma"].dtype)
    n = arrays.get("n", np.int64(0))
    if n.shape != () or n.dtype.kind not in "iu" or int(n) < 0:
        raise ValueError(f"path: expected a non-negative integer scalar 'n' in {name}, got {C.describe(n)}")
    return FeatureStatistics(mu, sigma, int(n))


def _read_npz(name: str, archive: zipfile.ZipFile, max_dim: int) -> dict[str, np.ndarray]:
    """The arrays ``mu``, ``sigma`` (required) and ``n`` (optional) of an ``.npz``: headers first, never unpickled."""
    files = [member[: -len(".npy")] for member in archive.namelist() if member.endswith(".npy")]
    missing = [key for key in ("mu", "sigma") if key not in files]
    if missing:
        raise ValueError(f"path: expected arrays 'mu' and 'sigma' in {name}, missing {missing} (has {files})")
    keys = [key for key in ("mu", "sigma", "n") if key in files]
    headers = {key: _read_header(name, archive, key) for key in keys}
    mu_shape, sigma_shape = headers["mu"][0], headers["sigma"][0]
    if len(mu_shape) != 1 or sigma_shape != (mu_shape[0],) * 2:
        raise ValueError(f"path: expected mu (d,) and sigma (d, d) in {name}, got shapes {mu_shape} and {sigma_shape}")
    d = mu_shape[0]
    if not 1 <= d <= max_dim:
        raise ValueError(f"path: expected a feature dimension 1 <= d <= max_dim = {max_dim} in {name}, got d = {d}")
    if "n" in headers and headers["n"][0] != ():
        raise ValueError(f"path: expected a non-negative integer scalar 'n' in {name}, got shape {headers['n'][0]}")
    return {key: _read_data(name, archive, key, *headers[key]) for key in keys}


def _read_header(name: str, archive: zipfile.ZipFile, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of the member ``key`` of an ``.npz``; refuses all but plain numeric arrays."""
    with archive.open(key + ".npy") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except ValueError as err:
            raise ValueError(f"path: array {key!r} in {name} has no valid .npy header ({err})") from err
    if dtype.hasobject:
        raise ValueError(
            f"path: array {key!r} in {name} is a pickled object array; refusing to unpickle it "
            "(statistics files hold plain float arrays)"
        )
    kinds = "iu" if key == "n" else "fiu"
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"path: array {key!r} in {name} has dtype {dtype}, expected a plain numeric array")
    return shape, fortran, dtype


def _read_data(name: str, archive: zipfile.ZipFile, key: str, shape: tuple, fortran: bool, dtype: np.dtype):
    """The data of a member whose header :func:`_read_header` accepted, of exactly the size it declares."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    with archive.open(key + ".npy") as f:
        version = np.lib.format.read_magic(f)
        (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(f)
        data = f.read(nbytes + 1)  # reading past the end checks the CRC
    if len(data) != nbytes:
        raise ValueError(
            f"path: array {key!r} in {name} holds {len(data)} bytes of data, its header declares {nbytes} "
            f"({dtype} {shape}): truncated or corrupted"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _finite_array(name: str, x: np.ndarray) -> np.ndarray:
    x = C.as_float64(name, x)
    C.check_finite(name, x)
    return x


def _check_covariance(name: str, sigma: np.ndarray, stored: np.dtype) -> np.ndarray:
    """``sigma`` symmetrised exactly, once it is symmetric and PSD within sqrt(eps) of its stored dtype."""
    tol = float(np.sqrt(np.finfo(stored if stored.kind == "f" else np.float64).eps))
    scale = float(np.max(np.abs(sigma)))
    asymmetry = float(np.max(np.abs(sigma - sigma.T)))
    if asymmetry > tol * scale:
        raise ValueError(
            f"path: sigma in {name} is not symmetric (max |sigma - sigma.T| = {asymmetry:.3g}, "
            f"max |sigma| = {scale:.3g}): not a covariance matrix"
        )
    sigma = 0.5 * (sigma + sigma.T)
    eigenvalues = np.linalg.eigvalsh(sigma)
    if eigenvalues[0] < -tol * max(float(np.max(np.abs(eigenvalues))), 0.0):
        raise ValueError(
            f"path: sigma in {name} is not positive semi-definite (smallest eigenvalue {eigenvalues[0]:.3g}, "
            f"largest {eigenvalues[-1]:.3g}): not a covariance matrix"
        )
    return sigma
