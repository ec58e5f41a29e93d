"""Slide theorems about score matching, each checked on both sides through :class:`~crosscheck.registry.Side`.

* implicit score matching = Fisher divergence + const in theta: exactly (Gaussian data, linear scores,
  expectations by sigma points) and by Monte Carlo with common random numbers (tanh-MLP scores);
* Hutchinson's trace estimator is unbiased for Gaussian and Rademacher probes;
* sliced score matching and its variance-reduced form equal implicit score matching in expectation;
* the sliced Fisher divergence = sliced score matching + a constant in theta, for each law of v (exactly);
* the energy forms of implicit and sliced score matching = the score forms with s = -grad E;
* denoising score matching = Fisher divergence to the noisy marginal + const in theta: exactly
  (Gaussian data, linear scores) and by Monte Carlo (MLP scores);
* explicit score matching with a Gaussian KDE of bandwidth h = DSM with sigma = h + const (Vincent 2011);
* Tweedie's formula gives the exact posterior mean for a Gaussian and for a mixture prior.

Exact expectations: for x ~ N(mu, Sigma) in d dimensions the 2d *sigma points* mu +- sqrt(d) L e_i
(Sigma = L L^T), equally weighted, have exactly the mean mu and covariance Sigma, so the average of a
polynomial of degree <= 3 over them *is* its Gaussian expectation. With a linear score
s(x) = x W + b every objective here is a quadratic in x (and in the DSM noise eps), so averaging the
library's sample-mean estimators over sigma points gives the population objectives, and the slide
identities hold to rounding for every theta. Monte-Carlo checks use a fixed seed and report
z-scores: the discrepancy divided by its standard error, computed exactly where the variance has a
closed form and from the per-sample terms otherwise.

Submodules: ``implicit`` (implicit and sliced score matching, Hutchinson's trace, the energy forms, the
Fisher divergence), ``denoising`` (DSM, explicit SM with a KDE, Tweedie's formula and the DSM claims),
``ncsn`` (the NCSN loss weighting and sigma_1 rule); importing this package registers them all. Their
shared helpers are in ``_common``.
"""

# Registration order is the report's order: implicit and sliced SM, then DSM and Tweedie, then NCSN.
# isort: off
from .implicit import (
    energy_forms_equal_score_forms,
    fisher_zero_only_at_truth,
    hutchinson_unbiased,
    ism_minus_fisher_exact,
    ism_minus_fisher_mlp,
    sliced_equals_implicit,
    sliced_fisher_minus_sliced_sm_exact,
)
from .denoising import (
    dsm_minus_esm_exact,
    dsm_minus_esm_mlp,
    dsm_optimum_is_noisy_score,
    dsm_variance_slopes,
    esm_kde_equals_dsm,
    tweedie_exact,
)
from .ncsn import ncsn_equal_loss_scale, ncsn_sigma_1_rule
# isort: on

__all__ = [
    "dsm_minus_esm_exact",
    "dsm_minus_esm_mlp",
    "dsm_optimum_is_noisy_score",
    "dsm_variance_slopes",
    "energy_forms_equal_score_forms",
    "esm_kde_equals_dsm",
    "fisher_zero_only_at_truth",
    "hutchinson_unbiased",
    "ism_minus_fisher_exact",
    "ism_minus_fisher_mlp",
    "ncsn_equal_loss_scale",
    "ncsn_sigma_1_rule",
    "sliced_equals_implicit",
    "sliced_fisher_minus_sliced_sm_exact",
    "tweedie_exact",
]
