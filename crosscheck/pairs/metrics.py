"""Agreement pairs for ``metrics`` (slides: see :mod:`reference.metrics`), and the strategies they draw from.

Feature sets are Gaussian point clouds from a drawn seed, moved by a drawn SPD matrix and shift (the
public :func:`crosscheck.strategies.spd_matrices` and ``bounded_floats``): the FID pairs need
covariances that are positive definite, which hypothesis' raw arrays (constant columns, fewer rows
than columns) are not. ``feature_statistics`` also gets raw arrays, degenerate ones included.

The k-NN pairs reject (``assume``) draws with a sample within a relative margin of a ball boundary:
the accelerated side forms squared distances as ``|x|^2 + |y|^2 - 2 x.y`` in the tested dtype, exact
only to about ``eps * max |x|^2``, and the reference uses exact float64 distances, so a sample that
close to a boundary may be counted by one side only (see :mod:`accelerated.metrics`). The margin is
1e-4 of the largest squared norm at float32 (the expansion's error is below 1e-6 of it for d <= 8)
and 1e-10 at float64.

The KID pairs (``mmd2_unbiased``, ``kid``) draw bounded feature sets (:func:`kid_feature_sets`: entries
in [-1.5, 1.5], so x.y / d lies in [-2.25, 2.25] and every kernel value in [-1.25^3, 3.25^3] =
[-1.95, 34.3]), and ``kid`` hands both sides the same explicit ``indices``, since the two sides draw
their subsets from different generators.
They run at the default tolerances. At float32 the accelerated kernel entries carry the rounding of a
float32 dot product and of the cube, about 1e-7 of a kernel value each and of either sign; the
estimate averages them, and where it cancels to near 0 (equal laws) the error stays near 1e-7 of
the kernel scale, below the default atol of 2e-6. Measured over two runs of 600 random draws per
pair: worst usage of the float32 default 0.18 (``mmd2_unbiased``; worst absolute difference 4.2e-6,
on a value above 1) and 0.16 (``kid``); at float64 below 1e-3. A formula error shows far above
that: keeping the diagonal terms (the biased V-statistic) moves the value by at least 1.5e-2 on
300 draws of this strategy.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial.distance import cdist

from .. import strategies as cs
from ..agree import Case, _round
from ..registry import bad, register_pair

__all__ = ["feature_sets", "kid_feature_sets", "knn_point_sets", "probability_tables"]

# Relative boundary margin (of the largest squared norm) below which a k-NN draw is rejected.
_BOUNDARY_MARGIN = {"float64": 1e-10, "float32": 1e-4}


@st.composite
def feature_sets(
    draw: st.DrawFn,
    n: int | None = None,
    d: int | None = None,
    *,
    max_d: int = 4,
    max_n: int = 40,
    max_condition: float = 1e2,
) -> np.ndarray:
    """A (n, d) feature set with a positive definite sample covariance: ``Z A + b``, Z Gaussian rows.

    Z comes from ``numpy.random.default_rng(seed)`` with a drawn seed, A is a drawn SPD matrix with
    condition number <= ``max_condition`` and largest eigenvalue <= 2, b a drawn shift in [-5, 5]^d;
    n > d + 1 by default. The bounded scale keeps tr(Sigma) <= ~4 d: FID(X, X) = 0 is computed as
    tr + tr - 2 tr(...), whose rounding (about eps tr(Sigma) on each side, and the accelerated side
    clamps a negative result to 0) must stay below the float64 atol of 1e-12.
    """
    d = draw(st.integers(1, max_d)) if d is None else d
    n = draw(st.integers(d + 2, max(max_n, d + 2))) if n is None else n
    seed = draw(st.integers(0, 2**32 - 1))
    A = draw(cs.spd_matrices(d, max_condition=max_condition, scale=(0.01, 2.0)))
    A *= min(1.0, 2.0 / np.linalg.eigvalsh(A)[-1])  # largest eigenvalue <= 2: covariances <= ~4 I
    b = draw(cs.bounded_floats((d,), -5.0, 5.0))
    Z = np.random.default_rng(seed).standard_normal((n, d))
    return Z @ A + b


@st.composite
def knn_point_sets(draw: st.DrawFn, dtype: str = "float64", *, max_n: int = 40, max_d: int = 6) -> dict:
    """Real and fake point sets, k, and block_size for the k-NN metrics, away from ball boundaries.

    Real points are standard Gaussian; fake points are Gaussian with a drawn scale and shift (from
    nearly the same distribution to far apart). Returns a dict with ``real``, ``fake``, ``k`` and
    ``block_size``; draws with a sample closer than the module's margin to a ball boundary (in the
    values rounded to ``dtype``) are rejected.
    """
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(2, max_n))
    m = draw(st.integers(2, max_n))
    k = draw(st.integers(1, min(n, m) - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.5, 1.0, 1.5]))
    shift = draw(st.sampled_from([0.0, 0.5, 2.0, 50.0]))
    block_size = draw(st.one_of(st.none(), st.integers(1, max_n)))
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d))
    fake = scale * rng.standard_normal((m, d)) + shift
    real, fake = _round(real, dtype), _round(fake, dtype)
    assume(_boundary_gap(real, fake, k) > _BOUNDARY_MARGIN[dtype])
    return {"real": real, "fake": fake, "k": k, "block_size": block_size}


def _kth_other(D: np.ndarray, k: int) -> np.ndarray:
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    return np.partition(D, k - 1, axis=1)[:, k - 1]


def _boundary_gap(real: np.ndarray, fake: np.ndarray, k: int) -> float:
    """Smallest |squared distance - squared radius| over all memberships, over the largest squared norm."""
    scale = max(float(np.max(np.sum(real * real, axis=1))), float(np.max(np.sum(fake * fake, axis=1))), 1e-300)
    D_rr, D_ff = cdist(real, real, "sqeuclidean"), cdist(fake, fake, "sqeuclidean")
    D_fr = cdist(fake, real, "sqeuclidean")  # (m, n)
    r_real, r_fake = _kth_other(D_rr, k), _kth_other(D_ff, k)
    # Near-ties among neighbours do not matter (the k-th smallest value is the same); memberships do.
    gap = min(float(np.min(np.abs(D_fr - r_real[None, :]))), float(np.min(np.abs(D_fr - r_fake[:, None]))))
    return gap / scale


@st.composite
def kid_feature_sets(draw: st.DrawFn, *, max_n: int = 30, max_d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets (n1, d) and (n2, d) with entries in [-1.5, 1.5], n1, n2 >= 2, for the KID pairs.

    ``features1`` is uniform on [-1, 1]^d (from a drawn seed); ``features2`` is the same array, an
    independent draw of the same law (MMD^2 near 0, where the estimate cancels), a scaled and
    shifted one (scale 0.5 or 1, shift up to 0.5: the laws differ), or hypothesis' raw bounded floats
    (repeated rows, constant columns, exact zeros).
    """
    d = draw(st.integers(1, max_d))
    n1 = draw(st.integers(2, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-1.0, 1.0, (n1, d))
    kind = draw(st.sampled_from(["same array", "same law", "shifted", "raw"]))
    if kind == "same array":
        return x, x.copy()
    n2 = draw(st.integers(2, max_n))
    if kind == "raw":
        return x, draw(cs.bounded_floats((n2, d), -1.5, 1.5))
    y = rng.uniform(-1.0, 1.0, (n2, d))
    if kind == "same law":
        return x, y
    return x, draw(st.sampled_from([0.5, 1.0])) * y + draw(st.sampled_from([0.1, 0.25, 0.5]))


@st.composite
def probability_tables(draw: st.DrawFn, *, max_n: int = 24, max_classes: int = 8) -> np.ndarray:
    """(n, K) class-probability tables: softmax rows with exact zeros, one-hot rows, or all one-hot."""
    K = draw(st.integers(1, max_classes))
    n = draw(st.integers(1, max_n))
    return draw(cs.probability_vectors(K, (n,)))


# --------------------------------------------------------------------------- cases


@st.composite
def _statistics_cases(draw: st.DrawFn, dtype: str) -> Case:
    raw = st.integers(1, 5).flatmap(
        lambda d: st.integers(2, 12).flatmap(lambda n: cs.bounded_floats((n, d), -1e3, 1e3))
    )
    offset = st.integers(1, 4).flatmap(
        lambda d: st.integers(2, 12).flatmap(lambda n: cs.bounded_floats((n, d), 1e4, 1e4 + 1.0))
    )
    return Case((draw(st.one_of(raw, offset, feature_sets())),))


@st.composite
def _frechet_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 5))
    mu1 = draw(cs.bounded_floats((d,), -5.0, 5.0))
    mu2 = draw(st.one_of(st.just(mu1), cs.bounded_floats((d,), -5.0, 5.0)))
    sigma1 = draw(cs.spd_matrices(d, max_condition=1e3, scale=(1e-2, 1e1)))
    sigma2 = draw(st.one_of(st.just(sigma1), cs.spd_matrices(d, max_condition=1e3, scale=(1e-2, 1e1))))
    return Case((mu1, sigma1, mu2, sigma2))


@st.composite
def _fid_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 4))
    x = draw(feature_sets(d=d))
    y = draw(st.one_of(st.just(x), feature_sets(d=d)))
    return Case((x, y))


@st.composite
def _fid_infinity_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 3))
    x = draw(feature_sets(d=d))
    y = draw(feature_sets(d=d, n=draw(st.integers(d + 6, 40))))
    m = y.shape[0]
    sizes = draw(st.lists(st.integers(d + 2, m), min_size=2, max_size=5).filter(lambda s: len(set(s)) >= 2))
    noise = draw(cs.uniforms((len(sizes), m), open_interval=False))
    return Case((x, y), {"batch_sizes": sizes, "noise": noise})


def _knn_cases(dtype: str) -> st.SearchStrategy:
    return knn_point_sets(dtype).map(
        lambda s: Case((s["real"], s["fake"]), {"k": s["k"], "block_size": s["block_size"]})
    )


def _mmd2_cases(dtype: str) -> st.SearchStrategy:
    return kid_feature_sets().map(lambda xy: Case(xy))


@st.composite
def _kid_cases(draw: st.DrawFn, dtype: str) -> Case:
    """Explicit ``indices`` (rows of distinct row numbers from a drawn seed), given to both sides."""
    x, y = draw(kid_feature_sets())
    n1, n2 = x.shape[0], y.shape[0]
    m = draw(st.integers(2, min(n1, n2)))
    S = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    idx1 = np.stack([rng.permutation(n1)[:m] for _ in range(S)])
    idx2 = np.stack([rng.permutation(n2)[:m] for _ in range(S)])
    sizes = draw(st.sampled_from([{}, {"subset_size": m, "n_subsets": S}]))  # given sizes must match
    return Case((x, y), {"indices": (idx1, idx2), **sizes})


@st.composite
def _inception_cases(draw: st.DrawFn, dtype: str) -> Case:
    p = draw(probability_tables())
    splits = draw(st.integers(1, p.shape[0]))
    return Case((p,), {"splits": splits})


def _components_cases(dtype: str) -> st.SearchStrategy:
    return probability_tables().map(lambda p: Case((p,)))


@st.composite
def _clip_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 16))
    batch = draw(cs.batch_shapes(max_dims=1, max_side=6))
    nonzero = st.floats(-3.0, 3.0, width=64).filter(lambda v: abs(v) > 1e-2)
    image = draw(hnp.arrays(np.float64, (*batch, d), elements=nonzero))
    text = draw(st.one_of(st.just(image), st.just(-image), hnp.arrays(np.float64, (d,), elements=nonzero)))
    return Case((image, text))


# --------------------------------------------------------------------------- bad inputs

_X = np.random.default_rng(13).normal(size=(10, 3))  # 10 rows, d = 3
_NAN = np.ones((4, 2))
_NAN[1, 1] = np.nan
_ASYMMETRIC = np.array([[1.0, 0.5], [0.0, 1.0]])
_NOISE = np.zeros((2, 10))
_A, _B = np.zeros((8, 3)), np.ones((10, 3))  # KID: n1 = 8, n2 = 10
_HUGE = np.array([[1e300, -1e300], [-1e300, 1e300], [1e300, 1e300]])  # finite, squares overflow float64
_FLAT = np.full((8, 3), 1e300)  # finite, no spread: fine statistics, but a mean (or kernel) term that overflows
_BIG = np.random.default_rng(14).normal(size=(20, 3)) * 1e150  # covariances ~1e300: the W2 products overflow


def _ints(*rows: list) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


_FEATURE_SET_ERRORS = [
    bad(
        np.zeros((4, 3)), np.zeros((4, 2)), match="features1 and features2: expected the same size along the last axis"
    ),
    bad(np.zeros((4, 3)), np.zeros((1, 3)), match="features2: expected at least 2 rows"),
    bad(np.zeros(4), np.zeros((4, 1)), match="features1: expected a 2-D"),
    bad(_NAN, np.ones((4, 2)), match="features1: expected finite values"),
]
_KNN_ERRORS = [
    bad(_X, _X, k=10, match="k: expected 1 <= k <= n - 1 = 9 for real"),
    bad(_X, _X, k=2.0, error=TypeError, match="k: expected an integer"),
    bad(_X, _X, k=True, error=TypeError, match="k: expected an integer"),
    bad(_X, _X, k=2, block_size=0, match="block_size: expected an integer >= 1"),
    bad(_X, _X, k=2, block_size=3.0, error=TypeError, match="block_size: expected an integer"),
    bad(_X, np.zeros((10, 4)), k=2, match="real and fake: expected the same size"),
    bad(np.zeros(10), _X, k=2, match="real: expected a 2-D"),
]
_FAKE_RADII_ERRORS = [bad(_X, _X[:4], k=5, match="k: expected 1 <= k <= n - 1 = 3 for fake")]

register_pair(
    "metrics",
    "feature_statistics",
    cases=_statistics_cases,
    errors=[
        bad(np.zeros(5), match="features: expected a 2-D"),
        bad(np.zeros((1, 3)), match="features: expected at least 2 rows"),
        bad(np.zeros((3, 0)), match="features: expected at least 1 feature column"),
        bad(np.full((3, 2), np.inf), match="features: expected finite values"),
        bad(_HUGE, match="features: the mean or covariance overflows float64"),
    ],
)
register_pair(
    "metrics",
    "frechet_distance",
    cases=_frechet_cases,
    errors=[
        bad(np.zeros(2), np.eye(2), np.zeros(2), _ASYMMETRIC, match="sigma2: expected symmetric"),
        bad(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2), match="sigma1"),
        bad(
            np.full(2, 1e300),
            np.eye(2),
            np.zeros(2),
            np.eye(2),
            match="mu1, sigma1, mu2, sigma2: the result overflowed",
        ),
    ],
)
register_pair(
    "metrics",
    "fid",
    cases=_fid_cases,
    errors=[
        *_FEATURE_SET_ERRORS,
        bad(np.ones((3, 2)), _HUGE[:, :2], match="features2: the mean or covariance overflows float64"),
        bad(_BIG, _BIG * 1.1, match="features1, features2: the Frechet distance cannot be computed"),
        bad(_FLAT, _A, match="features1, features2: the result overflowed float64"),
    ],
)
register_pair(
    "metrics",
    "fid_infinity",
    cases=_fid_infinity_cases,
    errors=[
        bad(_X, _X, batch_sizes=[5, 10], n_points=3, noise=_NOISE, match="batch_sizes / n_points: pass at most one"),
        bad(_X, _X, batch_sizes=[5, 11], noise=_NOISE, match="batch_sizes: expected sample counts N with 2 <= N <= 10"),
        bad(_X, _X, batch_sizes=[5, 5], noise=_NOISE, match="batch_sizes: the line fit needs at least two distinct N"),
        bad(_X, _X, batch_sizes=[5.0, 10.0], noise=_NOISE, error=TypeError, match="batch_sizes: expected a 1-D"),
        bad(_X, _X, n_points=3.0, noise=np.zeros((3, 10)), error=TypeError, match="n_points: expected an integer"),
        bad(_X, _X, n_points=1, noise=np.zeros((1, 10)), match="n_points: expected an integer >= 2"),
        bad(_X, _X, batch_sizes=[5, 10], noise=np.zeros((3, 10)), match="noise: expected shape"),
        bad(_X, _X, batch_sizes=[5, 10], noise=np.full((2, 10), 2.0), match=r"noise: expected values in \[0.0, 1.0\]"),
        bad(_X, _X, batch_sizes=[5, 10], match="pass exactly one of noise"),
        bad(_X, np.zeros((10, 2)), batch_sizes=[5, 10], noise=_NOISE, match="real_features and fake_features"),
        bad(
            _X,
            np.full((10, 3), 1e300),
            batch_sizes=[5, 10],
            noise=_NOISE,
            match="real_features, fake_features: the result",
        ),
    ],
)
register_pair(
    "metrics",
    "mmd2_unbiased",
    cases=_mmd2_cases,
    errors=[*_FEATURE_SET_ERRORS, bad(_FLAT, _A, match="features1, features2: the result overflowed float64")],
)
register_pair(
    "metrics",
    "kid",
    cases=_kid_cases,
    errors=[
        *_FEATURE_SET_ERRORS,
        bad(_FLAT, _B, n_subsets=2, match="features1, features2: the result overflowed float64"),
        bad(_A, _B, subset_size=4.0, error=TypeError, match="subset_size: expected an integer"),
        bad(_A, _B, subset_size=True, error=TypeError, match="subset_size: expected an integer"),
        bad(_A, _B, subset_size=1, match="subset_size: expected an integer >= 2"),
        bad(_A, _B, subset_size=9, match=r"subset_size: expected 2 <= subset_size <= min\(n1, n2\) = 8"),
        bad(_A, _B, n_subsets=0, match="n_subsets: expected an integer >= 1"),
        bad(_A, _B, n_subsets=False, error=TypeError, match="n_subsets: expected an integer"),
        bad(_A, _B, n_subsets=2.5, error=TypeError, match="n_subsets: expected an integer"),
        bad(_A, _B, rng=3, error=TypeError, match="rng: expected a"),
        bad(_A, _B, indices=[[0, 1]], error=TypeError, match="indices: expected a pair"),
        bad(
            _A,
            _B,
            indices=(np.array([[0.0, 1.0]]), _ints([0, 1])),
            error=TypeError,
            match=r"indices\[0\]: expected an integer",
        ),
        bad(
            _A,
            _B,
            indices=(np.array([0, 1]), np.array([0, 1])),
            match=r"indices\[0\]: expected shape \(n_subsets, subset_size\)",
        ),
        bad(_A, _B, indices=(_ints([0]), _ints([1])), match=r"indices\[0\]: expected shape"),
        bad(_A, _B, indices=(_ints([0, 1]), _ints([0, 1], [1, 2])), match="indices: expected two arrays of one shape"),
        bad(_A, _B, indices=(_ints([0, 8]), _ints([0, 1])), match=r"indices\[0\]: expected row indices in \[0, 7\]"),
        bad(_A, _B, indices=(_ints([0, 1]), _ints([-1, 1])), match=r"indices\[1\]: expected row indices in \[0, 9\]"),
        bad(_A, _B, indices=(_ints([0, 1], [2, 2]), _ints([0, 1], [1, 2])), match=r"indices\[0\]: expected distinct"),
        bad(_A, _B, indices=(_ints([0, 1]), _ints([0, 1])), subset_size=3, match="subset_size: expected None or 2"),
        bad(_A, _B, indices=(_ints([0, 1]), _ints([0, 1])), n_subsets=2, match="n_subsets: expected None or 1"),
    ],
)
register_pair("metrics", "precision_recall", cases=_knn_cases, errors=_KNN_ERRORS + _FAKE_RADII_ERRORS)
register_pair("metrics", "density_coverage", cases=_knn_cases, errors=_KNN_ERRORS)
register_pair("metrics", "prdc", cases=_knn_cases, errors=_KNN_ERRORS + _FAKE_RADII_ERRORS)
register_pair(
    "metrics",
    "inception_score",
    cases=_inception_cases,
    errors=[
        bad(np.full((3, 2), 0.6), match="probs: expected probabilities summing to 1"),
        bad(np.eye(2), splits=3, match="splits: expected 1 <= splits <= n = 2"),
        bad(np.eye(2), splits=0, match="splits: expected an integer >= 1"),
        bad(np.eye(2), splits=2.0, error=TypeError, match="splits: expected an integer"),
        bad(np.zeros((0, 2)), match="probs: expected at least 1 row"),
    ],
)
register_pair(
    "metrics",
    "inception_score_components",
    cases=_components_cases,
    errors=[
        bad(np.array([[1.5, -0.5]]), match="probs: expected non-negative"),
        bad(np.array([0.5, 0.5]), match=r"probs: expected a 2-D array of shape \(n, K\)"),
        bad(np.array([[0.5, np.nan]]), match="probs: expected finite values"),
    ],
)
register_pair(
    "metrics",
    "clip_score",
    cases=_clip_cases,
    errors=[
        bad(np.ones((2, 3)), np.ones((2, 4)), match="image_embeddings and text_embeddings: expected the same size"),
        bad(np.zeros((1, 3)), np.ones((1, 3)), match="image_embeddings: expected non-zero embeddings"),
        bad(np.ones((2, 3)), np.zeros((2, 3)), match="text_embeddings: expected non-zero embeddings"),
        bad(np.ones((2, 0)), np.ones((2, 0)), match="image_embeddings: expected embeddings with d >= 1"),
        bad(np.ones((2, 3)), np.ones((3, 3)), match="batch shapes do not broadcast"),
    ],
)
