"""The (β-)VAE loss against numpy/scipy references computed independently."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vae.likelihoods import Likelihood
from vae.methods import beta_vae


def _outputs(key, batch=4, pixels=(5, 5, 1), latents=3, params_per_channel=1):
  k1, k2, k3, k4 = jax.random.split(key, 4)
  return jax.random.bernoulli(k1, 0.4, (batch, *pixels)).astype(jnp.float32), {
      'mean': jax.random.normal(k2, (batch, latents)),
      'logvar': 0.5 * jax.random.normal(k3, (batch, latents)),
      'decoder_out': 2 * jax.random.normal(
          k4, (batch, *pixels[:-1], pixels[-1] * params_per_channel)),
  }


def _kl_reference(mean, logvar):
  # Closed form KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − ln σ²), Kingma & Welling 2014, App. B.
  mean, logvar = np.float64(mean), np.float64(logvar)
  return 0.5 * (mean**2 + np.exp(logvar) - 1 - logvar)


@pytest.mark.parametrize('beta', [0.0, 1.0, 4.0])
def test_bernoulli_beta_vae_loss_matches_scipy(beta):
  x, out = _outputs(jax.random.key(0))
  loss, aux = beta_vae.beta_vae_loss(x, out, beta, Likelihood('bernoulli'))
  probs = 1 / (1 + np.exp(-np.float64(out['decoder_out'])))
  # scipy.stats.bernoulli.logpmf is the independent reference for log p(x|z).
  recon = -stats.bernoulli.logpmf(np.asarray(x), probs).reshape(4, -1).sum(1).mean()
  kl_per_dim = _kl_reference(out['mean'], out['logvar']).mean(0)
  np.testing.assert_allclose(aux['recon'], recon, rtol=1e-5)
  np.testing.assert_allclose(aux['kl'], kl_per_dim.sum(), rtol=1e-5)
  for i in range(3):
    np.testing.assert_allclose(aux[f'kl_per_dim/{i}'], kl_per_dim[i], rtol=1e-5)
  np.testing.assert_allclose(loss, recon + beta * kl_per_dim.sum(), rtol=1e-5)
  np.testing.assert_allclose(aux['elbo'], -(recon + kl_per_dim.sum()), rtol=1e-5)
  assert aux['loss'] == loss and aux['beta'] == beta


def test_gaussian_likelihoods_match_scipy():
  x, out = _outputs(jax.random.key(1), params_per_channel=2)
  learned = Likelihood('gaussian_learned')
  _, aux = beta_vae.beta_vae_loss(x, out, 1.0, learned)
  mean, logvar = np.split(np.float64(out['decoder_out']), 2, axis=-1)
  # scipy.stats.norm.logpdf with scale = exp(logvar / 2): Σ_θ(z) is a variance.
  logp = stats.norm.logpdf(np.asarray(x), mean, np.exp(logvar / 2)).reshape(4, -1).sum(1)
  np.testing.assert_allclose(aux['recon'], -logp.mean(), rtol=1e-5)

  x, out = _outputs(jax.random.key(2))
  fixed = Likelihood('gaussian_fixed', fixed_logvar=np.log(0.25))
  _, aux = beta_vae.beta_vae_loss(x, out, 1.0, fixed)
  logp = stats.norm.logpdf(np.asarray(x), np.float64(out['decoder_out']), 0.5)
  np.testing.assert_allclose(aux['recon'], -logp.reshape(4, -1).sum(1).mean(), rtol=1e-5)


def test_elbo_is_the_beta_one_loss_whatever_beta():
  x, out = _outputs(jax.random.key(3))
  loss_1, aux_1 = beta_vae.beta_vae_loss(x, out, 1.0, Likelihood())
  _, aux_8 = beta_vae.beta_vae_loss(x, out, 8.0, Likelihood())
  np.testing.assert_allclose(aux_8['elbo'], aux_1['elbo'])
  np.testing.assert_allclose(-aux_1['elbo'], loss_1)
