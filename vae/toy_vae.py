"""The toy VAE of docs/exercise_sheet.md, question 7: one input feature, scalar networks, and a Σ
that the question leaves open to two readings. The library's Gaussians take a log-variance, so
the reading decides only how Σ becomes one.
"""

import flax.linen as nn
import jax.numpy as jnp

from vae import distributions

SIGMA_READINGS = ('variance', 'std')


def toy_encoder(x):
  """(u_φ(x), Σ_φ(x)) = (ReLU(2·ReLU(3x − 1)), ReLU(ReLU(3x + 1) + 1))."""
  return nn.relu(2 * nn.relu(3 * x - 1)), nn.relu(nn.relu(3 * x + 1) + 1)


def toy_decoder(z):
  """(u_θ(z), Σ_θ(z)) = (ReLU(−z + 12), ReLU(2z − 10))."""
  return nn.relu(-z + 12), nn.relu(2 * z - 10)


def logvar_of_sigma(sigma, reading):
  """log-variance of a Gaussian whose Σ is read as a 'variance' (log Σ) or an 'std' (2·log Σ)."""
  if reading not in SIGMA_READINGS:
    raise ValueError(f'unknown reading {reading!r}; allowed: {", ".join(SIGMA_READINGS)}')
  return jnp.log(sigma) * (1.0 if reading == 'variance' else 2.0)


def toy_vae_pass(x, eps, reading):
  """Question 7 at input x and noise eps: the encoder's (u, Σ), z by the reparameterization
  trick, and the decoder's (u, Σ) at each z; Σ read as `reading` on both sides."""
  enc_mean, enc_sigma = toy_encoder(x)
  z = distributions.sample_from_noise(enc_mean, logvar_of_sigma(enc_sigma, reading), eps)
  dec_mean, dec_sigma = toy_decoder(z)
  return {'enc_mean': enc_mean, 'enc_sigma': enc_sigma, 'z': z,
          'dec_mean': dec_mean, 'dec_sigma': dec_sigma}
