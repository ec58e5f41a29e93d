"""langevin.sde: the Euler-Maruyama step and solver (Lecture 13 'SDE basics') on hand-checkable cases, both sides.

Agreement on drawn inputs is checked by the registered pairs (tests/test_agreement.py), the Ornstein-Uhlenbeck
moments and the Langevin SDE's stationary law by the crosscheck theorems.
"""

import math

import numpy as np
import pytest
import torch

from accelerated import langevin as acc
from reference import langevin as ref


def t(x):
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def score(x, time=None):
    """Score of N(0, 2 I) (a drift f(x, t) when time is given), on arrays and tensors alike."""
    return -x / 2.0


def test_step_by_hand_scalar_and_per_sample_diffusion():
    x, z = np.array([[1.0], [2.0]]), np.array([[0.5], [-1.0]])
    out = ref.euler_maruyama_step(lambda x, t: -x, lambda t: np.array([1.0, 3.0]), x, 0.0, dt=0.25, noise=z)
    # x - x dt + g sqrt(dt) z: 1 - 0.25 + 1 * 0.5 * 0.5 = 1.0 and 2 - 0.5 + 3 * 0.5 * (-1) = 0.0
    np.testing.assert_allclose(out, [[1.0], [0.0]], atol=1e-15)
    out_t = acc.euler_maruyama_step(lambda x, t: -x, lambda t: t_([1.0, 3.0]), t(x), 0.0, dt=0.25, noise=t(z))
    np.testing.assert_allclose(out_t.numpy(), [[1.0], [0.0]], atol=1e-15)


def t_(v):
    return torch.tensor(v, dtype=torch.float64)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_langevin_sde_with_dt_half_eta_is_ula(side):
    """dx = s(x) dt + sqrt(2) dw on the grid dt = eta / 2 is the unadjusted Langevin chain with step size eta."""
    lib, conv = (ref, np.asarray) if side == "reference" else (acc, t)
    rng = np.random.default_rng(0)
    x0, noise, eta = rng.standard_normal((4, 3)), rng.standard_normal((5, 4, 3)), 0.3
    times = [k * eta / 2 for k in range(6)]
    em = lib.euler_maruyama_solve(score, lambda t: math.sqrt(2.0), conv(x0), times, noise=conv(noise))
    ula = lib.langevin_sample(score, conv(x0), step_size=eta, n_steps=5, noise=conv(noise))
    np.testing.assert_allclose(np.asarray(em.samples), np.asarray(ula.samples), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_rng_draws_as_given_noise_and_no_aliasing(side):
    x0 = np.ones((3, 2))
    times = np.array([0.0, 0.1, 0.3])
    if side == "reference":
        noise = np.random.default_rng(1).standard_normal((2, 3, 2))
        a = ref.euler_maruyama_solve(score, lambda t: 1.0 + t, x0, times, rng=np.random.default_rng(1))
        b = ref.euler_maruyama_solve(score, lambda t: 1.0 + t, x0, times, noise=noise, record_steps=[0, 2])
        a, b, traj = a.samples, b.samples, b.trajectory
    else:
        g = torch.Generator().manual_seed(1)
        noise = torch.stack([torch.randn((3, 2), generator=g, dtype=torch.float64) for _ in range(2)])
        x0 = t(x0)
        gen = torch.Generator().manual_seed(1)
        a = acc.euler_maruyama_solve(score, lambda t: 1.0 + t, x0, t(times), rng=gen).samples
        out = acc.euler_maruyama_solve(score, lambda t: 1.0 + t, x0, times, noise=noise, record_steps=[0, 2])
        a, b, traj = a.numpy(), out.samples.numpy(), out.trajectory.numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(traj[0], np.ones((3, 2)))
    np.testing.assert_array_equal(traj[1], b)
    np.testing.assert_array_equal(np.asarray(x0), np.ones((3, 2)))  # x0 untouched


@pytest.mark.parametrize("lib", [ref, acc])
def test_one_time_point_returns_a_copy(lib):
    x0 = np.ones((2, 1)) if lib is ref else torch.ones(2, 1, dtype=torch.float64)
    out = lib.euler_maruyama_solve(score, lambda t: 1.0, x0, [0.5], noise=x0[None][:0])
    assert out.samples is not x0 and out.samples.shape == (2, 1)


def test_accelerated_refuses_a_numpy_diffusion():
    with pytest.raises(TypeError, match="diffusion_fn: expected it to return a real number or a torch"):
        acc.euler_maruyama_step(score, lambda t: np.ones(2), torch.ones(2, 1), 0.0, dt=0.1, noise=torch.zeros(2, 1))
