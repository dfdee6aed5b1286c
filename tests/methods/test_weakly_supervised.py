"""The group VAEs on pairs against numpy: the adaptive split (and disentanglement_lib's), the
shared posteriors' closed forms, the loss by hand, and the settings each refuses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments.configs import test as test_config
from vae import models
from vae import settings
from vae.data import dsprites
from vae.data import pairs
from vae.errors import UserInputError
from vae.methods import beta_vae
from vae.methods import weakly_supervised as weak

_RNG = np.random.default_rng(0)
LATENTS = len(dsprites.FACTOR_SIZES)  # 5: a latent per factor, as the label variants need.


def _numpy_kl(mean_1, logvar_1, mean_2, logvar_2):
  """KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) per dimension, the textbook closed form in float64."""
  m1, l1, m2, l2 = (np.asarray(a, np.float64) for a in (mean_1, logvar_1, mean_2, logvar_2))
  return 0.5 * (l2 - l1 + (np.exp(l1) + (m1 - m2)**2) / np.exp(l2) - 1)


def test_the_adaptive_split_finds_the_latents_the_views_share():
  # Rows whose views agree exactly on a known set of latents; elsewhere the means move by 2 to
  # 2.4 posterior deviations, so δ = c²/2 lies in [2, 2.88], above the midpoint of [0, max δ].
  shared = np.array([[1, 1, 0, 1, 0, 1], [0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 0]], bool)
  mean_1 = _RNG.normal(size=shared.shape)
  logvar = _RNG.normal(size=shared.shape) * 0.3
  moved = _RNG.choice([-1, 1], shared.shape) * _RNG.uniform(2, 2.4, shared.shape)
  mean_2 = np.where(shared, mean_1, mean_1 + moved * np.exp(logvar / 2))
  delta = _numpy_kl(mean_1, logvar, mean_2, logvar)
  assert np.array_equal(np.asarray(weak.adaptive_shared(jnp.asarray(delta))), shared)


def _library_shared(mean_1, logvar_1, mean_2, logvar_2):
  """disentanglement_lib's decision: its δ (`compute_kl`, 2·KL) in two equal-width bins over
  [min, max] (`tf.histogram_fixed_width_bins`: floor(2 (δ − min)/(max − min)) clipped to 0 … 1);
  bin 0 is averaged (shared)."""
  v1, v2 = np.exp(logvar_1), np.exp(logvar_2)
  delta = v1 / v2 + (mean_2 - mean_1)**2 / v2 - 1 + logvar_2 - logvar_1
  low, high = delta.min(axis=1, keepdims=True), delta.max(axis=1, keepdims=True)
  return np.clip(np.floor(2 * (delta - low) / (high - low)), 0, 1) == 0


def test_the_split_decides_as_the_library_does_under_its_delta():
  shape = (2000, 10)
  mean_1, mean_2 = _RNG.normal(size=shape), _RNG.normal(size=shape)
  logvar_1, logvar_2 = _RNG.normal(size=shape), _RNG.normal(size=shape)
  ours = np.asarray(weak.adaptive_shared(jnp.asarray(_numpy_kl(mean_1, logvar_1, mean_2,
                                                                logvar_2))))
  assert np.array_equal(ours, _library_shared(mean_1, logvar_1, mean_2, logvar_2))
  assert 0.2 < ours.mean() < 0.9  # Both decisions are exercised.


def _quadrature_moments(density, grid):
  weights = density / np.trapezoid(density, grid)
  mean = np.trapezoid(weights * grid, grid)
  return mean, np.trapezoid(weights * (grid - mean)**2, grid)


@pytest.mark.parametrize('m1,s1,m2,s2', [(0.3, 0.5, -1.2, 1.7), (2.0, 0.1, 1.5, 0.2),
                                         (-0.4, 1.0, -0.4, 1.0)])
def test_the_shared_posteriors_match_their_closed_forms(m1, s1, m2, s2):
  args = [jnp.asarray([v], jnp.float32) for v in (m1, 2 * np.log(s1), m2, 2 * np.log(s2))]
  mean, logvar = weak.average(*args)
  # GroupVAE: the mean of the means, the mean of the variances.
  assert float(mean[0]) == pytest.approx((m1 + m2) / 2, rel=1e-6, abs=1e-7)
  assert float(np.exp(logvar[0])) == pytest.approx((s1**2 + s2**2) / 2, rel=1e-6)
  # ML-VAE: q ∝ q₁^½ q₂^½, its moments by quadrature on a fine grid.
  mean, logvar = weak.product_of_experts(*args)
  grid = np.linspace(-12, 12, 400_001)
  density = np.sqrt(stats.norm.pdf(grid, m1, s1) * stats.norm.pdf(grid, m2, s2))
  want_mean, want_var = _quadrature_moments(density, grid)
  assert float(mean[0]) == pytest.approx(want_mean, rel=1e-5, abs=1e-6)
  assert float(np.exp(logvar[0])) == pytest.approx(want_var, rel=1e-5)


def test_the_labels_keep_the_changed_factors_latents_and_share_the_rest():
  changed = jnp.asarray([[True, False, False], [False, True, True]])
  assert np.array_equal(np.asarray(weak.labelled_shared(changed, 5)),
                        [[False, True, True, True, True], [True, False, False, True, True]])


def _model_and_params():
  config = test_config.get_config()
  config.model, config.hidden, config.latents = 'mlp', 16, LATENTS
  model = models.create_model(config, dsprites.IMAGE_SHAPE, variational=True)
  x = dsprites.sample(jax.random.key(0), 1)
  return model, model.init(jax.random.key(1), x, jax.random.key(2))['params']


def _numpy_view_losses(model, params, views, key, beta):
  """Each view's β-VAE loss by hand: ε for each pair's rows side by side, as the method draws
  it; the Bernoulli log-likelihood from scipy; the KL to N(0, I) in closed form; batch means."""
  x = np.stack(views, axis=1).reshape(-1, *np.shape(views[0])[1:])
  mean, logvar = (np.asarray(a, np.float64) for a in model.apply({'params': params}, x,
                                                                  method='encode'))
  eps = np.asarray(jax.random.normal(key, mean.shape))
  z = mean + np.exp(logvar / 2) * eps
  logits = np.asarray(model.apply({'params': params}, jnp.asarray(z, jnp.float32),
                                  method='decode'), np.float64)
  recon = -stats.bernoulli.logpmf(x, 1 / (1 + np.exp(-logits))).reshape(len(x), -1).sum(1)
  kl = 0.5 * (mean**2 + np.exp(logvar) - logvar - 1).sum(1)
  per_view = (recon + beta * kl).reshape(-1, len(views)).mean(axis=0)
  return per_view


def _pair_batch(x1, x2, changed):
  return {'x1': x1, 'x2': x2, 'changed': jnp.asarray(changed)}


def test_with_no_shared_latent_the_loss_is_both_views_beta_vae_losses():
  model, params = _model_and_params()
  x1, x2 = dsprites.sample(jax.random.key(3), 4), dsprites.sample(jax.random.key(4), 4)
  key, beta = jax.random.key(5), 4.0
  # Every factor changed and a latent per factor: the labels share no latent.
  batch = _pair_batch(x1, x2, np.ones((4, LATENTS), bool))
  loss, aux = weak.GroupVAELabels()(model, params, None, batch, key, beta, 0)
  assert float(aux['shared_latents']) == 0
  want = _numpy_view_losses(model, params, [x1, x2], key, beta)
  assert float(loss) == pytest.approx(want.sum(), rel=1e-5)
  assert float(aux['recon_1'] + beta * aux['kl_1']) == pytest.approx(want[0], rel=1e-5)


@pytest.mark.parametrize('method', [weak.AdaGVAE(), weak.AdaMLVAE(), weak.GroupVAELabels(),
                                    weak.MLVAELabels()])
def test_with_equal_views_the_loss_is_one_views_loss_twice(method):
  # Equal views: both shared posteriors are the view's own (½(v + v) = v; 2v²/(v + v) = v), so
  # the loss is one view's β-VAE loss at each of the two halves of ε.
  model, params = _model_and_params()
  x = dsprites.sample(jax.random.key(3), 4)
  key, beta = jax.random.key(6), 2.0
  loss, aux = method(model, params, None, _pair_batch(x, x, np.zeros((4, LATENTS), bool)), key,
                     beta, 0)
  want = _numpy_view_losses(model, params, [x, x], key, beta)
  assert float(loss) == pytest.approx(want.sum(), rel=1e-5)
  if method.uses_labels:
    assert float(aux['shared_latents']) == LATENTS  # No factor changed: every latent shared.
  np.testing.assert_allclose([float(aux[f'delta/{j}']) for j in range(LATENTS)], 0, atol=1e-6)


def test_the_logged_delta_is_the_kl_between_the_views():
  model, params = _model_and_params()
  x1, x2 = dsprites.sample(jax.random.key(7), 8), dsprites.sample(jax.random.key(8), 8)
  _, aux = weak.AdaGVAE()(model, params, None, _pair_batch(x1, x2, np.zeros((8, 5), bool)),
                          jax.random.key(9), 1.0, 0)
  mean, logvar = model.apply({'params': params}, jnp.concatenate([x1, x2]), method='encode')
  delta = _numpy_kl(mean[:8], logvar[:8], mean[8:], logvar[8:]).mean(axis=0)
  np.testing.assert_allclose([float(aux[f'delta/{j}']) for j in range(LATENTS)], delta,
                             rtol=1e-4)
  shared = _library_shared(*(np.asarray(a, np.float64) for a in
                             (mean[:8], logvar[:8], mean[8:], logvar[8:])))
  assert float(aux['shared_latents']) == pytest.approx(shared.sum(axis=1).mean())


def test_the_eval_row_scores_single_observations_as_the_beta_vae():
  model, params = _model_and_params()
  x, key = dsprites.sample(jax.random.key(3), 4), jax.random.key(4)
  got = weak.AdaGVAE().evaluate(model, params, None, x, key, 8.0, 0)
  want = beta_vae.beta_vae_loss(x, model.apply({'params': params}, x, key), 8.0,
                                model.likelihood)[1]
  assert got.keys() == want.keys()
  assert all(float(got[k]) == float(want[k]) for k in got)


def _config(**overrides):
  config = test_config.get_config()
  config.method = 'ada_gvae'
  config.update(overrides)
  return config


@pytest.mark.parametrize('overrides,message', [
    ({'num_changed_factors': '5'}, "--config.num_changed_factors='5' must be 'rnd' or an integer "
                                   'in 1 … 4 (--config.dataset=procedural_dsprites has 5 factors)'),
    ({'num_changed_factors': '0'}, "--config.num_changed_factors='0' must be a positive integer "
                                   "or 'rnd'"),
    ({'num_changed_factors': 'two'}, "--config.num_changed_factors='two' must be a positive "
                                     "integer or 'rnd'"),
    ({'pair_sampler': 'library'}, "unknown pair_sampler 'library' (--config.pair_sampler); "
                                  'allowed: uniform, disentanglement_lib'),
    ({'method': 'mlvae_labels', 'latents': 4},
     '--config.latents=4 must be at least 5 for --config.method=mlvae_labels, which ties latent '
     'j to factor j of --config.dataset=procedural_dsprites'),
])
def test_bad_settings_are_one_line_errors(overrides, message):
  with pytest.raises(UserInputError, match='^' + message.replace('(', r'\(').replace(')', r'\)')
                     + '$'):
    settings.check_config(_config(**overrides))


tfds = pytest.importorskip('tensorflow_datasets')


def test_a_source_without_a_factor_grid_is_refused():
  with tfds.testing.mock_data(num_examples=20):
    with pytest.raises(UserInputError, match=(
        r'^--config.method=ada_gvae trains on pairs that differ in ground-truth factors; '
        r'--config.dataset=mnist has no grid of factors')):
      settings.check_config(_config(dataset='mnist', data_dir='/nonexistent'))


def test_pairs_are_drawn_as_the_settings_say():
  sampler = weak.AdaGVAE(num_changed_factors='2', pair_sampler='disentanglement_lib').sampler(
      dsprites.dataset())
  assert sampler == pairs.PairSampler(dsprites.dataset(), 2, 'disentanglement_lib')
