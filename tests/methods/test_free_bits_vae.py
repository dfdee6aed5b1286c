"""The free-bits VAE against a numpy evaluation of Kingma et al. 2016's objective."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vae.likelihoods import Likelihood
from vae.methods import beta_vae
from vae.methods import free_bits_vae

_RNG = np.random.default_rng(0)
_MEAN = np.float32(_RNG.normal(size=(5, 3)) * np.array([0.05, 1.0, 2.0]))  # One near-prior latent.
_LOGVAR = np.float32(_RNG.normal(size=(5, 3)) * 0.3)
_X = np.float32(_RNG.integers(0, 2, size=(5, 4)))
_LOGITS = np.float32(_RNG.normal(size=(5, 4)))


def _outputs(mean=_MEAN, logvar=_LOGVAR):
  return {'mean': jnp.asarray(mean), 'logvar': jnp.asarray(logvar), 'z': jnp.asarray(mean),
          'decoder_out': jnp.asarray(_LOGITS)}


def _numpy_objective(free_bits):
  """recon + Σ_j max(λ, KL_j), each term by hand: −log Bernoulli(x; sigmoid(logits)) from scipy,
  KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − log σ² − 1) per latent, averaged over the batch."""
  recon = -stats.bernoulli.logpmf(_X, 1 / (1 + np.exp(-_LOGITS.astype(np.float64)))).sum(1).mean()
  kl = 0.5 * (_MEAN**2 + np.exp(_LOGVAR) - _LOGVAR - 1).astype(np.float64).mean(axis=0)
  return recon + np.maximum(free_bits, kl).sum(), kl


@pytest.mark.parametrize('free_bits', [0.0, 0.3, 5.0])
def test_loss_is_the_numpy_objective(free_bits):
  loss, aux = free_bits_vae.free_bits_vae_loss(jnp.asarray(_X), _outputs(), free_bits,
                                               Likelihood('bernoulli'))
  expected, kl = _numpy_objective(free_bits)
  assert float(loss) == pytest.approx(expected, rel=1e-5)
  assert float(aux['kl']) == pytest.approx(kl.sum(), rel=1e-5)  # The true KL, not the floored.
  assert int(aux['free_latents']) == int((kl < free_bits).sum())


def test_zero_free_bits_is_the_vae():
  x, out = jnp.asarray(_X), _outputs()
  free, _ = free_bits_vae.free_bits_vae_loss(x, out, 0.0, Likelihood('bernoulli'))
  vae, _ = beta_vae.beta_vae_loss(x, out, 1.0, Likelihood('bernoulli'))
  assert float(free) == pytest.approx(float(vae), rel=1e-6)


def test_a_latent_below_the_floor_feels_no_kl():
  _, kl = _numpy_objective(0.0)
  free_bits = float(np.sort(kl)[0] + np.sort(kl)[1]) / 2  # Between the two smallest KLs.
  below = int(np.argmin(kl))

  def kl_part(mean, logvar):
    out = {**_outputs(mean, logvar), 'decoder_out': jnp.zeros_like(jnp.asarray(_LOGITS))}
    return free_bits_vae.free_bits_vae_loss(jnp.asarray(_X), out, free_bits,
                                            Likelihood('bernoulli'))[0]

  grad_mean, grad_logvar = jax.grad(kl_part, argnums=(0, 1))(jnp.asarray(_MEAN),
                                                              jnp.asarray(_LOGVAR))
  assert np.all(np.asarray(grad_mean)[:, below] == 0)
  assert np.all(np.asarray(grad_logvar)[:, below] == 0)
  others = [j for j in range(3) if j != below]
  assert np.all(np.abs(np.asarray(grad_mean)[:, others]) > 0)
