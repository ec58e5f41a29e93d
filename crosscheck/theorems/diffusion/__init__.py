"""Slide theorems about DDPM and guidance, each checked on both sides through :class:`~crosscheck.registry.Side`.

* q(x_t | x_0) is the composition of the one-step kernels q(x_t | x_(t-1)) (means and variances);
* the posterior q(x_(t-1) | x_t, x_0) is the normalised Bayes product q(x_t | x_(t-1)) q(x_(t-1) | x_0);
* the eps-parametrised mean with the true noise is the posterior mean;
* L_t as a Gaussian KL equals elbo_weight * ||eps - eps_theta||^2 for any eps_theta;
* eps_to_score of the true noise is grad log q(x_t | x_0) (finite differences of SciPy's log-density);
* NCSN <-> DDPM: the sigma^2-weighted DSM term on q(x_t | x_0) is the L_simple term, and L_t is
  elbo_weight times it;
* the classifier-guidance mean shift is the exact tilt of a Gaussian (the slide's sigma (.) g is not);
* classifier-free guidance equals classifier guidance with the Bayes classifier, for Gaussian
  class-conditionals; gamma = 1 gives the conditional score exactly;
* ddpm_sample with the exact eps of Gaussian data reproduces its mean and covariance;
* DDIM (beyond the slides): eta = 1 on every position is ddpm_sample with the same noise; eta = 0 is
  deterministic (only x_T matters) and equals its closed-form map for Gaussian data.

Submodules: ``forward`` (the forward process and the ELBO), ``guidance``, ``sampling`` (DDPM and DDIM).
Schedules are built on each side from that side's own schedule functions; the independent quantities
(alpha_bar by ``np.cumprod``, log-densities by SciPy) are computed here in NumPy.
"""

from . import elbo, forward, guidance, sampling

__all__ = ["elbo", "forward", "guidance", "sampling"]
