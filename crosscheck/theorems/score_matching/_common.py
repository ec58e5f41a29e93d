"""Helpers of the score-matching theorem checks (private): test laws, sigma points, parameter draws, modules."""

from __future__ import annotations

import importlib
import math

import numpy as np

from crosscheck.registry import Side

EPS = float(np.finfo(np.float64).eps)
Z_BOUND = 5.0  # Monte-Carlo checks: |discrepancy| <= 5 standard errors (two-sided p = 5.7e-7 per check)

MEAN = np.array([0.5, -1.0, 0.25])
COV = np.array([[1.5, 0.4, -0.2], [0.4, 0.8, 0.1], [-0.2, 0.1, 0.5]])
MEAN_2D = np.array([0.3, -0.4])
COV_2D = np.array([[1.0, 0.3], [0.3, 0.6]])
MIX_WEIGHTS = np.array([0.5, 0.3, 0.2])
MIX_MEANS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 2.0]])
MIX_COVS = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 0.8]], [[0.3, 0.0], [0.0, 0.3]]])


def _sigma_points(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The 2d points mean +- sqrt(d) L e_i: equal weights give exactly the mean and covariance."""
    d = mean.shape[0]
    offsets = math.sqrt(d) * np.linalg.cholesky(cov).T  # row i: sqrt(d) (L e_i)^T
    return np.concatenate([mean + offsets, mean - offsets])


def _linear_thetas(d: int, rng: np.random.Generator, count: int) -> list[dict[str, np.ndarray]]:
    return [{"W": rng.normal(scale=0.8, size=(d, d)), "b": rng.normal(size=d)} for _ in range(count)]


def _mlp_thetas(d: int, rng: np.random.Generator, count: int, hidden: int = 6) -> list[dict[str, np.ndarray]]:
    return [
        {
            "W1": rng.normal(scale=0.8, size=(d, hidden)),
            "b1": rng.normal(scale=0.5, size=hidden),
            "W2": rng.normal(scale=0.8, size=(hidden, d)),
            "b2": rng.normal(scale=0.5, size=d),
        }
        for _ in range(count)
    ]


def _lib(side: Side, module: str):
    """``reference.<module>`` or ``accelerated.<module>`` (imported directly: not every topic is lazy)."""
    return importlib.import_module(f"{side.name}.{module}")


def _model(side: Side, family: str, params: dict[str, np.ndarray]):
    return getattr(_lib(side, "models"), family)(**{k: side.array(v) for k, v in params.items()})


def _gaussian(side: Side, mean: np.ndarray, cov: np.ndarray):
    return _lib(side, "distributions").Gaussian(side.array(mean), side.array(cov))


def _scalar(side: Side, value) -> float:
    return float(side.numpy(value))


def _mlp_jacobian(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """J[k, i, j] = d s_i / d x_j of tanh(x W1 + b1) W2 + b2, in NumPy (independent of both sides)."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.einsum("hi,kh,jh->kij", params["W2"], 1.0 - h**2, params["W1"])


def _mlp_scores(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.tanh(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def _quadratic_form_variance(A: np.ndarray, kind: str) -> np.ndarray:
    """Var(v^T A v) for E[v v^T] = I: 2 |A_sym|_F^2 (Gaussian), minus 2 sum_j A_jj^2 (Rademacher); A (..., d, d)."""
    A_sym = 0.5 * (A + np.swapaxes(A, -1, -2))
    var = 2.0 * np.sum(A_sym**2, axis=(-2, -1))
    if kind == "rademacher":
        var = var - 2.0 * np.sum(np.diagonal(A, axis1=-2, axis2=-1) ** 2, axis=-1)
    return var


def _probes(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "gaussian":
        return rng.standard_normal(shape)
    return rng.choice([-1.0, 1.0], size=shape)


def _joint_sigma_points(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sigma points of (x, eps) ~ N(mean, cov) x N(0, I): 4d rows, split into x and eps."""
    d = mean.shape[0]
    joint_cov = np.zeros((2 * d, 2 * d))
    joint_cov[:d, :d], joint_cov[d:, d:] = cov, np.eye(d)
    z = _sigma_points(np.concatenate([mean, np.zeros(d)]), joint_cov)
    return z[:, :d], z[:, d:]
