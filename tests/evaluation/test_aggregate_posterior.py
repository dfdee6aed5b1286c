"""Chen et al. 2018's MIG and ELBO decomposition against entropies computed by quadrature."""

import itertools

import jax
import numpy as np
import pytest
from scipy import special
from scipy import stats

from vae.evaluation import aggregate_posterior

_LINE = np.linspace(-12.0, 12.0, 24_001)


def _entropy_1d(means, stds):
  """−∫ q log q of the equal mixture of N(means, stds²) on a fine line (trapezoid rule)."""
  density = np.mean(stats.norm.pdf(_LINE[:, None], means, stds), axis=1)
  integrand = np.where(density > 0, -density * np.log(np.maximum(density, 1e-300)), 0.0)
  return np.trapezoid(integrand, _LINE)


def _grid_posteriors(sizes, latents, seed):
  rng = np.random.default_rng(seed)
  num = int(np.prod(sizes))
  means = rng.normal(0.0, 1.5, (num, latents)).astype(np.float32)
  logvars = rng.uniform(-2.0, 0.0, (num, latents)).astype(np.float32)
  return means, logvars


def test_mutual_information_and_mig_equal_quadrature_on_a_small_grid():
  # Reference: H(z_j) and H(z_j | v_k) by quadrature of the exact mixtures (the full joint of the
  # 2 × 3 grid), I = H(z_j) − H(z_j | v_k) and the MIG from them by hand.
  sizes, names = (2, 3), ('a', 'b')
  means, logvars = _grid_posteriors(sizes, 2, seed=0)
  stds = np.exp(0.5 * logvars.astype(np.float64))
  grid_means = means.reshape(*sizes, 2)
  grid_stds = stds.reshape(*sizes, 2)
  exact = np.zeros((2, 2))
  for k, j in itertools.product(range(2), range(2)):
    marginal = _entropy_1d(means[:, j], stds[:, j])
    values_m = np.moveaxis(grid_means[..., j], k, 0)
    values_s = np.moveaxis(grid_stds[..., j], k, 0)
    conditional = np.mean([_entropy_1d(m.ravel(), s.ravel()) for m, s in zip(values_m, values_s)])
    exact[k, j] = max(marginal - conditional, 0.0)
  top = -np.sort(-exact, axis=1)
  exact_mig = np.mean((top[:, 0] - top[:, 1]) / np.log(sizes))
  result = aggregate_posterior.chen_mig(jax.random.key(0), means, logvars, names, sizes,
                                        num_samples=100_000, excluded=())
  # Each entropy's Monte Carlo standard error is ~std(log q)/√S ≈ 0.004 nats.
  np.testing.assert_allclose(result['chen_mutual_information'], exact, atol=0.02)
  assert result['chen_mig'] == pytest.approx(exact_mig, abs=0.03)


def _code(factor_values, rotation, sizes):
  means = (factor_values @ rotation.T).astype(np.float32)
  logvars = np.full_like(means, np.log(1e-4))  # σ = 0.01 against a spacing of 1.
  return means, logvars


def _factor_grid(sizes):
  return np.array(list(itertools.product(*[range(s) for s in sizes])), np.float64)


def test_identity_code_has_mig_one():
  # Each latent a copy of one factor, the spikes far apart: I(z_k; v_k) = log |v_k|, the rest 0.
  sizes = (4, 5)
  means, logvars = _code(_factor_grid(sizes), np.eye(2), sizes)
  result = aggregate_posterior.chen_mig(jax.random.key(1), means, logvars, ('a', 'b'), sizes,
                                        num_samples=20_000, excluded=())
  np.testing.assert_allclose(np.diag(result['chen_mutual_information']), np.log(sizes), atol=0.02)
  assert result['chen_mig'] == pytest.approx(1.0, abs=0.02)


def test_rotated_code_has_mig_near_zero_and_shape_is_left_out():
  # Rotated 45°: each latent holds as much of one factor as of the other, so every gap is ~0.
  sizes = (3, 8, 8)
  grid = _factor_grid(sizes)
  c = np.sqrt(0.5)
  rotation = np.array([[1, 0, 0], [0, c, -c], [0, c, c]])
  means, logvars = _code(grid, rotation, sizes)
  result = aggregate_posterior.chen_mig(jax.random.key(2), means, logvars,
                                        ('shape', 'pos_x', 'pos_y'), sizes, num_samples=20_000)
  assert result['chen_factors'] == ['pos_x', 'pos_y']
  assert result['chen_mig'] < 0.05
  # Closed form: with spikes this narrow, I(c(a ± b); a) = H(a ± b) − H(b), where a ± b of two
  # uniform 8-valued factors has the triangular law (8 − |d|)/64 on 15 values.
  triangle = (8 - np.abs(np.arange(-7, 8))) / 64
  expected = -np.sum(triangle * np.log(triangle)) - np.log(8)
  np.testing.assert_allclose(np.array(result['chen_mutual_information'])[:, 1:], expected,
                             atol=0.02)


def _entropy_2d(means, stds):
  """−∫∫ q log q of an equal mixture of diagonal 2-D Gaussians on a grid (trapezoid rule)."""
  line = np.linspace(-9.0, 9.0, 1201)
  x, y = np.meshgrid(line, line, indexing='ij')
  density = np.mean([stats.norm.pdf(x, m[0], s[0]) * stats.norm.pdf(y, m[1], s[1])
                     for m, s in zip(means, stds)], axis=0)
  integrand = -density * np.log(np.maximum(density, 1e-300))
  return np.trapezoid(np.trapezoid(integrand, line, axis=1), line)


def test_elbo_decomposition_equals_quadrature_and_sums_to_the_mean_kl():
  # Reference: H(z), H(z_j) of the exact 3-component aggregate posterior by quadrature; the
  # Gaussians' own entropies and cross-entropies with N(0, 1) in closed form.
  means = np.array([[-1.0, 0.5], [0.8, 0.2], [0.3, -1.2]], np.float32)
  logvars = np.array([[-1.0, -0.5], [-0.3, -1.5], [-2.0, 0.0]], np.float32)
  stds = np.exp(0.5 * logvars.astype(np.float64))
  joint = _entropy_2d(means.astype(np.float64), stds)
  marginals = np.array([_entropy_1d(means[:, j], stds[:, j]) for j in range(2)])
  conditional = np.mean(np.sum(0.5 * np.log(2 * np.pi * np.e * stds ** 2), axis=1))
  cross = np.mean(0.5 * np.log(2 * np.pi) + 0.5 * (means ** 2 + stds ** 2), axis=0)
  kl = np.mean(np.sum(0.5 * (means ** 2 + stds ** 2 - 1) - np.log(stds), axis=1))
  terms = aggregate_posterior.elbo_decomposition(jax.random.key(3), means, logvars, 200_000)
  assert terms['dataset_mi'] == pytest.approx(joint - conditional, abs=0.01)
  assert terms['dataset_tc'] == pytest.approx(marginals.sum() - joint, abs=0.01)
  assert terms['dataset_dim_kl'] == pytest.approx(np.sum(cross - marginals), abs=0.01)
  assert terms['dataset_kl'] == pytest.approx(kl, rel=1e-5)
  total = terms['dataset_mi'] + terms['dataset_tc'] + terms['dataset_dim_kl']
  assert total == pytest.approx(terms['dataset_kl'], abs=1e-4)
  # I(x; z) is at most H(x) = log 3 for three equally likely inputs.
  assert 0 < terms['dataset_mi'] <= np.log(3) + 0.01


def test_components_beyond_one_chunk_are_all_counted():
  # Reference: scipy's logsumexp over all 2,500 components at once (more than one 2,048 chunk,
  # so the last is padded) of the same samples.
  rng = np.random.default_rng(5)
  means = rng.normal(size=(2500, 3)).astype(np.float32)
  logvars = rng.uniform(-1, 0, (2500, 3)).astype(np.float32)
  z = rng.normal(size=(7, 3)).astype(np.float32)
  marginal, joint = aggregate_posterior._log_aggregate(z, means, logvars)
  per_dim = stats.norm.logpdf(z[:, None, :], means[None].astype(np.float64),
                              np.exp(0.5 * logvars[None].astype(np.float64)))
  np.testing.assert_allclose(marginal, special.logsumexp(per_dim, axis=1) - np.log(2500),
                             rtol=1e-5)
  np.testing.assert_allclose(joint, special.logsumexp(per_dim.sum(-1), axis=1) - np.log(2500),
                             rtol=1e-5)
