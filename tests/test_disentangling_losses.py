"""β-TCVAE, FactorVAE, DIP-VAE and AnnealedVAE losses against independent numpy/scipy references."""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vae import disentangling_losses as dl
from vae import objectives
from vae.errors import UserInputError
from vae.likelihoods import Likelihood


def _outputs(seed, batch=4, pixels=(3, 3, 1), latents=3):
  # numpy draws: test data needs no compiled random kernels.
  rng = np.random.default_rng(seed)
  mean = rng.standard_normal((batch, latents))
  logvar = 0.5 * rng.standard_normal((batch, latents))
  x = (rng.random((batch, *pixels)) < 0.4).astype(np.float32)
  return jnp.asarray(x), {
      'mean': jnp.float32(mean), 'logvar': jnp.float32(logvar),
      'z': jnp.float32(mean + np.exp(logvar / 2) * rng.standard_normal((batch, latents))),
      'decoder_out': jnp.float32(2 * rng.standard_normal((batch, *pixels))),
  }


def _brute_force_log_q(z, mean, logvar):
  # log q(z_i,d | x_j) by an explicit double loop over the batch; scipy's scale is the std σ.
  z, mean, logvar = (np.float64(a) for a in (z, mean, logvar))
  batch = z.shape[0]
  log_q = np.empty((batch, batch, z.shape[1]))
  for i in range(batch):
    for j in range(batch):
      log_q[i, j] = stats.norm.logpdf(z[i], mean[j], np.exp(logvar[j] / 2))
  return log_q


def _paper_weights(batch, n, estimator):
  # Chen et al. 2018: minibatch-weighted sampling weighs every q(z_i|x_j) by 1/(NM), M the batch
  # size; minibatch-stratified sampling gives z_i's own posterior 1/N, one other (here
  # x_{i+1 mod B}) (N − M)/(NM) and the remaining M − 1 others 1/M, M = B − 1.
  if estimator == 'mws':
    return np.full((batch, batch), 1 / (n * batch))
  m = batch - 1
  weights = np.empty((batch, batch))
  for i in range(batch):
    for j in range(batch):
      weights[i, j] = 1 / n if j == i else (n - m) / (n * m) if j == (i + 1) % batch else 1 / m
  return weights


def _paper_estimates(out, n, estimator):
  """log q(z_i), log ∏_d q(z_i,d) as the paper writes them, in float64: ([B], [B])."""
  log_q = _brute_force_log_q(out['z'], out['mean'], out['logvar'])
  weights = _paper_weights(log_q.shape[0], n, estimator)
  q_joint = (weights * np.exp(log_q.sum(-1))).sum(1)
  q_marginals = (weights[:, :, None] * np.exp(log_q)).sum(1)
  return np.log(q_joint), np.log(q_marginals).sum(1), log_q


def _log_qz_x_and_pz(out):
  # log q(z_i|x_i) and log p(z_i), p = N(0, I), from scipy.
  z = np.float64(out['z'])
  log_qz_x = stats.norm.logpdf(z, np.float64(out['mean']), np.exp(np.float64(out['logvar']) / 2))
  return log_qz_x.sum(1), stats.norm.logpdf(z).sum(1)


@pytest.mark.parametrize('estimator', dl.TC_ESTIMATORS)
def test_log_aggregate_estimates_match_the_papers_formulas_by_brute_force(estimator):
  _, out = _outputs(0)
  log_qz, log_qz_product = dl.log_aggregate_estimates(
      out['z'], out['mean'], out['logvar'], 10, estimator)
  ref_joint, ref_product, _ = _paper_estimates(out, 10, estimator)
  np.testing.assert_allclose(log_qz, ref_joint, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(log_qz_product, ref_product, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('estimator,n', [('mws', 4), ('mws', 1000), ('mss', 4), ('mss', 1000)])
def test_tc_terms_match_brute_force_and_sum_to_the_sampled_kl(estimator, n):
  x, out = _outputs(1)
  beta = 6.0
  loss, aux = dl.beta_tcvae_loss(x, out, beta, Likelihood(), n, estimator)
  ref_joint, ref_product, _ = _paper_estimates(out, n, estimator)
  log_qz_x, log_pz = _log_qz_x_and_pz(out)
  np.testing.assert_allclose(aux['mi'], (log_qz_x - ref_joint).mean(), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(aux['tc'], (ref_joint - ref_product).mean(), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(aux['dim_kl'], (ref_product - log_pz).mean(), rtol=1e-5, atol=1e-5)
  # The decomposition telescopes to the one-sample KL estimate E[log q(z|x) − log p(z)].
  np.testing.assert_allclose(aux['mi'] + aux['tc'] + aux['dim_kl'], (log_qz_x - log_pz).mean(),
                             rtol=1e-5, atol=1e-5)
  # recon, kl and elbo as the β-VAE's (checked against scipy in test_objectives).
  _, base = objectives.beta_vae_loss(x, out, 1.0, Likelihood())
  for name in ('recon', 'kl', 'elbo', 'kl_per_dim/0', 'kl_per_dim/2'):
    np.testing.assert_allclose(aux[name], base[name], rtol=1e-6)
  np.testing.assert_allclose(
      loss, base['recon'] + aux['mi'] + beta * aux['tc'] + aux['dim_kl'], rtol=1e-6)
  assert aux['loss'] == loss and aux['beta'] == beta


@pytest.mark.parametrize('n', [4, 1000])
def test_identical_product_posteriors_give_the_closed_form_decomposition(n):
  # Every example has the same posterior N(m, diag s²), a product over dims: then q(z) is that
  # product, so MI = TC = 0 exactly and dim_KL = E[log q(z|x) − log p(z)]. MSS (rows summing to
  # 1) is exact; MWS's log q(z) is log N too low, its product D·log N too low.
  batch, latents = 4, 3
  rng = np.random.default_rng(2)
  mean = np.tile(rng.standard_normal((1, latents)), (batch, 1))
  logvar = np.tile([[-0.5, 0.0, 0.7]], (batch, 1))
  z = mean + np.exp(logvar / 2) * rng.standard_normal((batch, latents))
  out = {'mean': jnp.float32(mean), 'logvar': jnp.float32(logvar), 'z': jnp.float32(z)}
  log_qz_x, log_pz = _log_qz_x_and_pz(out)
  dim_kl = (log_qz_x - log_pz).mean()
  mss = dl.tc_decomposition(out['z'], out['mean'], out['logvar'], n, 'mss')
  np.testing.assert_allclose([mss['mi'], mss['tc'], mss['dim_kl']], [0, 0, dim_kl], atol=2e-5)
  mws = dl.tc_decomposition(out['z'], out['mean'], out['logvar'], n, 'mws')
  log_n = math.log(n)
  np.testing.assert_allclose([mws['mi'], mws['tc'], mws['dim_kl']],
                             [log_n, (latents - 1) * log_n, dim_kl - latents * log_n],
                             rtol=1e-5, atol=2e-5)


def test_mss_with_the_batch_as_data_set_is_unbiased_over_the_stratified_partner():
  # With N = B the paper's MSS is not the batch mixture (1/B) Σ_j q(z_i|x_j) itself, but its
  # q(z_i) averaged over every choice of the one-element stratum (all batch orders) is.
  _, out = _outputs(3)
  orders = np.array(list(itertools.permutations(range(4))))
  estimate = jax.jit(jax.vmap(lambda p: dl.log_aggregate_estimates(
      out['z'][p], out['mean'][p], out['logvar'][p], 4, 'mss')[0]))(orders)
  q_average = np.zeros(4)
  for order, log_qz in zip(orders, np.float64(estimate)):
    q_average[order] += np.exp(log_qz) / len(orders)
  exact = np.exp(_brute_force_log_q(out['z'], out['mean'], out['logvar']).sum(-1)).mean(1)
  np.testing.assert_allclose(q_average, exact, rtol=1e-5)
  for n in (4, 10, 737_280):
    np.testing.assert_allclose(np.exp(dl.log_importance_weights(4, n, 'mss')).sum(1), 1,
                               rtol=1e-6)


# Jitted (N and the estimator static): one compile rather than many op-by-op ones.
_tc_decomposition = jax.jit(dl.tc_decomposition, static_argnums=(3, 4))


def _tc(estimator, mean, logvar, seed):
  z = mean + np.exp(logvar / 2) * np.random.default_rng(seed).standard_normal(mean.shape)
  return float(_tc_decomposition(*(jnp.float32(a) for a in (z, mean, logvar)), len(z),
                                 estimator)['tc'])


@pytest.mark.parametrize('estimator', dl.TC_ESTIMATORS)
def test_tc_is_near_zero_for_a_factorized_code_and_large_for_a_correlated_one(estimator):
  rng = np.random.default_rng(4)
  batch, latents = 400, 3
  # Factorized: means from independent N(0, 0.5²) per dim, σ = 1, so q(z) ≈ N(0, 1.25·I).
  factorized = _tc(estimator, 0.5 * rng.standard_normal((batch, latents)),
                   np.zeros((batch, latents)), 5)
  # Correlated: one shared N(0, 1) coordinate in every dim, σ = 0.1, so q(z) ≈ N(0, 11ᵀ + 0.01·I)
  # whose TC is ½(Σ_d log Σ_dd − log det Σ) (Gaussian closed form).
  covariance = np.ones((latents, latents)) + 0.01 * np.eye(latents)
  closed_form = 0.5 * (np.log(np.diag(covariance)).sum() - np.linalg.slogdet(covariance)[1])
  correlated = _tc(estimator, np.repeat(rng.standard_normal((batch, 1)), latents, axis=1),
                   np.full((batch, latents), 2 * np.log(0.1)), 6)
  if estimator == 'mss':
    assert abs(factorized) < 0.05
    assert abs(correlated - closed_form) < 0.3
  else:
    # MWS's weights are the batch mean's over N, so its TC is the batch mixture's plus exactly
    # (D − 1)·log N: an offset both codes share, and all of the factorized code's TC.
    assert factorized >= -0.05 and abs(factorized - (latents - 1) * math.log(batch)) < 0.1
    assert abs(correlated - factorized - closed_form) < 0.3


@pytest.mark.parametrize('estimator', dl.TC_ESTIMATORS)
def test_beta_tcvae_gradients_are_finite_even_for_far_apart_posteriors(estimator):
  x, out = _outputs(7)
  eps = jnp.float32(np.random.default_rng(8).standard_normal(out['mean'].shape))
  far_mean = jnp.array([[0., 0, 0], [30, -30, 0], [-30, 30, 5], [60, 0, -60]])
  far_logvar = jnp.array([[-10., 5, 0], [-10, -10, -10], [5, 5, 5], [0, -10, 5]])

  def loss(mean, logvar, eps):
    outputs = {**out, 'mean': mean, 'logvar': logvar, 'z': mean + jnp.exp(logvar / 2) * eps}
    return dl.beta_tcvae_loss(x, outputs, 4.0, Likelihood(), 1000, estimator)[0]

  grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
  for mean, logvar in ((out['mean'], out['logvar']), (far_mean, far_logvar)):
    assert np.isfinite(float(loss(mean, logvar, eps)))
    assert all(np.isfinite(g).all() for g in grad(mean, logvar, eps))


def test_bad_settings_are_user_errors():
  with pytest.raises(UserInputError, match='allowed: mws, mss'):
    dl.log_importance_weights(4, 10, 'exact')
  with pytest.raises(UserInputError, match='dataset size'):
    dl.log_importance_weights(8, 5, 'mss')
  with pytest.raises(UserInputError, match='batch size 1'):
    dl.log_importance_weights(1, 5, 'mss')
  with pytest.raises(UserInputError, match='allowed: i, ii'):
    dl.dip_covariance(jnp.zeros((4, 2)), jnp.zeros((4, 2)), 'iii')


def test_permute_dims_keeps_each_column_and_breaks_the_pairing():
  batch, latents = 64, 3
  # Column d holds row r as r + 100·d, so each entry names the row it came from.
  z = jnp.arange(batch, dtype=jnp.float32)[:, None] + 100.0 * jnp.arange(latents)
  permuted = jax.jit(dl.permute_dims)(jax.random.key(0), z)
  rows = np.asarray(permuted) - 100 * np.arange(latents)
  for d in range(latents):
    np.testing.assert_array_equal(np.sort(rows[:, d]), np.arange(batch))
  # Independent permutations: rows whose dims still come from one example are rare (1/B each).
  assert (rows[:, 0] == rows[:, 1]).mean() < 0.2 and (rows[:, 1] == rows[:, 2]).mean() < 0.2
  assert not np.array_equal(rows[:, 0], np.arange(batch))


def test_discriminator_loss_is_the_numpy_cross_entropy():
  rng = np.random.default_rng(9)
  real = jnp.float32(3 * rng.standard_normal((5, 2)))
  permuted = jnp.float32(3 * rng.standard_normal((7, 2)))
  loss, aux = dl.discriminator_loss(real, permuted)

  def log_softmax(logits):  # numpy, float64
    logits = np.float64(logits)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

  # Class 0 = "from q(z)", class 1 = "from ∏_d q(z_d)"; equal weight on the two sets.
  expected = -0.5 * (log_softmax(real)[:, 0].mean() + log_softmax(permuted)[:, 1].mean())
  np.testing.assert_allclose(loss, expected, rtol=1e-6)
  assert aux['discriminator_loss'] == loss


def test_discriminator_accuracy_on_hand_built_logits():
  real = jnp.array([[2., 0], [0, 1], [3, -1]])  # right, wrong, right
  permuted = jnp.array([[0., 1], [1, 0], [5, 5]])  # right, wrong, tie (wrong)
  _, aux = dl.discriminator_loss(real, permuted)
  np.testing.assert_allclose(aux['discriminator_accuracy'], 3 / 6)


def test_discriminator_shapes_and_leaky_relu():
  z = jnp.zeros((5, 10))
  shapes = jax.eval_shape(dl.Discriminator().init, jax.random.key(0), z)['params']
  kernels = [shapes[f'Dense_{i}']['kernel'].shape for i in range(len(shapes))]
  assert kernels == [(10, 1000)] + [(1000, 1000)] * 5 + [(1000, 2)]
  tiny = dl.Discriminator(hidden=4, layers=2)
  assert tiny.apply({'params': _numpy_params(tiny, 0, z)}, z).shape == (5, 2)
  # One unit, identity weights: logit_0 = leaky_relu(z) = 0.2·z for z < 0.
  one = dl.Discriminator(hidden=1, layers=1)
  params = {'Dense_0': {'kernel': jnp.ones((1, 1)), 'bias': jnp.zeros(1)},
            'Dense_1': {'kernel': jnp.array([[1., 0]]), 'bias': jnp.zeros(2)}}
  np.testing.assert_allclose(one.apply({'params': params}, jnp.array([[-2.], [3]])),
                             [[-0.4, 0], [3, 0]], rtol=1e-6)


def test_factor_vae_loss_closed_form():
  x, out = _outputs(10, batch=3)
  logits = jnp.array([[2., 0], [1, 1], [0, 3]])  # logit_0 − logit_1 = 2, 0, −3
  loss, aux = dl.factor_vae_loss(x, out, 10.0, Likelihood(), logits)
  _, base = objectives.beta_vae_loss(x, out, 1.0, Likelihood())
  np.testing.assert_allclose(aux['tc_estimate'], -1 / 3, rtol=1e-6)
  np.testing.assert_allclose(loss, base['recon'] + base['kl'] - 10 / 3, rtol=1e-6)
  np.testing.assert_allclose(aux['elbo'], base['elbo'], rtol=1e-6)


def _numpy_dip_covariance(mean, logvar, dip_type):
  # numpy.cov with bias=True (1/B): disentanglement_lib's E[μμᵀ] − E[μ]E[μ]ᵀ is the biased one.
  covariance = np.cov(np.float64(mean), rowvar=False, bias=True)
  if dip_type == 'ii':
    covariance += np.diag(np.exp(np.float64(logvar)).mean(0))
  return covariance


@pytest.mark.parametrize('dip_type', dl.DIP_TYPES)
def test_dip_covariance_is_the_biased_numpy_covariance(dip_type):
  _, out = _outputs(11, batch=6)
  mean = out['mean'] + 50.0  # A shared offset: the centred form keeps float32 accuracy.
  covariance = dl.dip_covariance(mean, out['logvar'], dip_type)
  np.testing.assert_allclose(covariance, _numpy_dip_covariance(mean, out['logvar'], dip_type),
                             rtol=1e-4, atol=1e-5)
  unbiased = np.cov(np.float64(mean), rowvar=False)  # ddof=1: a different, larger matrix.
  assert not np.allclose(dl.dip_covariance(mean, out['logvar'], 'i'), unbiased, rtol=1e-3)


@pytest.mark.parametrize('dip_type,factor,default', [('i', 10.0, True), ('ii', 1.0, True),
                                                     ('i', 3.0, False)])
def test_dip_vae_loss_closed_form(dip_type, factor, default):
  x, out = _outputs(12, batch=6)
  lambda_od = 5.0
  kwargs = {} if default else {'lambda_d_factor': factor}
  loss, aux = dl.dip_vae_loss(x, out, lambda_od, Likelihood(), dip_type, **kwargs)
  covariance = _numpy_dip_covariance(out['mean'], out['logvar'], dip_type)
  off = (covariance**2).sum() - (np.diag(covariance)**2).sum()
  diagonal = ((np.diag(covariance) - 1)**2).sum()
  penalty = lambda_od * off + factor * lambda_od * diagonal
  _, base = objectives.beta_vae_loss(x, out, 1.0, Likelihood())
  np.testing.assert_allclose(aux['dip_off_diagonal'], off, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(aux['dip_diagonal'], diagonal, rtol=1e-5)
  np.testing.assert_allclose(aux['dip_penalty'], penalty, rtol=1e-5)
  np.testing.assert_allclose(loss, base['recon'] + base['kl'] + penalty, rtol=1e-5)


def test_capacity_schedule():
  # C(t) = min(C_max, C_max·t/T) at t = 0, T/2, T, 2T.
  np.testing.assert_allclose([dl.capacity(t, 25.0, 1000) for t in (0, 500, 1000, 2000)],
                             [0, 12.5, 25, 25])
  np.testing.assert_allclose(dl.capacity(50_000, 10.0), 5.0)  # Default T = 100,000.


def test_annealed_vae_loss_closed_form():
  # One example, μ = (1, 0), σ² = 1: KL = ½·1² = 0.5 nats; logits 0 on 4 pixels: recon = 4 log 2.
  x = jnp.array([[[[1.], [0]], [[1], [1]]]])
  out = {'mean': jnp.array([[1., 0]]), 'logvar': jnp.zeros((1, 2)),
         'z': jnp.zeros((1, 2)), 'decoder_out': jnp.zeros((1, 2, 2, 1))}
  for step, expected_capacity in ((0, 0.0), (250, 0.25), (2000, 1.0)):
    loss, aux = dl.annealed_vae_loss(x, out, 1.0, Likelihood(), step, 1000.0, 1000)
    np.testing.assert_allclose(aux['capacity'], expected_capacity, rtol=1e-6)
    np.testing.assert_allclose(loss, 4 * np.log(2) + 1000 * abs(0.5 - expected_capacity),
                               rtol=1e-6)
    np.testing.assert_allclose(aux['elbo'], -(4 * np.log(2) + 0.5), rtol=1e-6)


_TINY_DISCRIMINATOR = dl.Discriminator(hidden=8, layers=2)


def _numpy_params(module, seed, *args):
  """`module`'s parameters drawn by numpy: shapes from `eval_shape`, so nothing is compiled."""
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(module.init, jax.random.key(0), *args)['params']
  return jax.tree.map(lambda s: jnp.float32(0.5 * rng.standard_normal(s.shape)), shapes)


def _method_loss(method, posterior, x, decoder_out, strength, step, discriminator_params):
  """One method's loss of arrays shaped like `VAE.apply`'s outputs, the strength traced."""
  mean, logvar, eps = posterior
  out = {'mean': mean, 'logvar': logvar, 'z': mean + jnp.exp(logvar / 2) * eps,
         'decoder_out': decoder_out}
  likelihood = Likelihood()
  if method == 'beta_tcvae':
    return dl.beta_tcvae_loss(x, out, strength, likelihood, 100, 'mss')
  if method == 'factor_vae':
    logits = _TINY_DISCRIMINATOR.apply({'params': discriminator_params}, out['z'])
    return dl.factor_vae_loss(x, out, strength, likelihood, logits)
  if method in ('dip_vae_i', 'dip_vae_ii'):
    return dl.dip_vae_loss(x, out, strength, likelihood, method.removeprefix('dip_vae_'))
  return dl.annealed_vae_loss(x, out, strength, likelihood, step, iteration_threshold=10)


def _method_inputs(seed):
  x, out = _outputs(seed, batch=8)
  eps = jnp.float32(np.random.default_rng(seed + 1).standard_normal(out['mean'].shape))
  discriminator = _numpy_params(_TINY_DISCRIMINATOR, seed + 2, out['z'])
  return (out['mean'], out['logvar'], eps), x, out['decoder_out'], discriminator


@pytest.mark.parametrize('method', ['beta_tcvae', 'factor_vae', 'dip_vae_i', 'dip_vae_ii',
                                    'annealed_vae'])
def test_a_new_strength_never_recompiles_and_gradients_are_finite(method):
  posterior, x, decoder_out, discriminator = _method_inputs(13)
  step = jax.jit(jax.value_and_grad(functools.partial(_method_loss, method), has_aux=True))
  losses = []
  for i, strength in enumerate(dl.DEFAULT_STRENGTHS[method][:3]):
    (loss, aux), grads = step(posterior, x, decoder_out, strength, 5 * i, discriminator)
    losses.append(float(loss))
    assert all(np.isfinite(float(v)) for v in aux.values())
    assert all(np.isfinite(g).all() for g in grads)
  assert step._cache_size() == 1
  assert len(set(losses)) == 3  # The strength (and for annealed_vae the step) reaches the loss.


def test_factor_vae_gamma_reaches_the_encoder_through_the_discriminator():
  # z's gradient must flow through the logits: γ then changes the gradient on the posterior.
  posterior, x, decoder_out, discriminator = _method_inputs(18)
  grad = jax.jit(jax.grad(lambda p, gamma: _method_loss(
      'factor_vae', p, x, decoder_out, gamma, 0, discriminator)[0]))
  without, with_tc = grad(posterior, 0.0), grad(posterior, 40.0)
  assert not np.allclose(without[0], with_tc[0]) and not np.allclose(without[1], with_tc[1])


def test_default_strengths_are_the_reference_studys():
  assert dl.DEFAULT_STRENGTHS == {
      'beta_vae': (1, 2, 4, 6, 8, 16), 'annealed_vae': (5, 10, 25, 50, 75, 100),
      'factor_vae': (10, 20, 30, 40, 50, 100), 'dip_vae_i': (1, 2, 5, 10, 20, 50),
      'dip_vae_ii': (1, 2, 5, 10, 20, 50), 'beta_tcvae': (1, 2, 4, 6, 8, 10)}
  assert all(method in dl.__doc__ for method in dl.DEFAULT_STRENGTHS)
