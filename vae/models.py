"""Encoders, decoders and the VAE module (Flax Linen: pure init/apply on parameter pytrees).

Architectures:
  mlp   784-500-latents style: flatten, Dense(hidden), ReLU, Dense(2·latents) (flax examples/vae).
  chen_mlp  Chen et al. 2018's β-TCVAE MLP: encoder flatten-1200-1200-2·latents (ReLU),
        decoder latents-1200-1200-1200-pixels (tanh): the architecture of their dSprites MIG.
  conv  the disentanglement standard (Higgins et al. 2017; Locatello et al. 2019): encoder
        conv 32, 32, 64, 64 (4×4, stride 2), Dense 256, Dense 2·latents; decoder mirrored with
        stride-2 transposed convolutions. Needs an image side divisible by 16 (64×64 in the papers).
The encoder returns the Gaussian posterior q(z|x) = N(mean, diag exp(logvar)); the decoder returns
the likelihood's parameters (see `vae.likelihoods`). The deterministic `Autoencoder` reuses
the same networks with the encoder's mean head as its code: both share one parameter layout.
"""

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vae import distributions
from vae import layers
from vae import quantization
from vae.errors import UserInputError
from vae.likelihoods import Likelihood

ARCHITECTURES = ('conv', 'mlp', 'chen_mlp')
_CONV_CHANNELS = (32, 32, 64, 64)
_CONV_HIDDEN = 256
_CHEN_HIDDEN = 1200  # Chen et al. 2018, vae_quant.py's MLPEncoder / MLPDecoder widths.


class MLPEncoder(nn.Module):
  latents: int
  hidden: int = 500

  @nn.compact
  def __call__(self, x):
    h = nn.relu(nn.Dense(self.hidden)(x.reshape(x.shape[0], -1)))
    mean, logvar = jnp.split(nn.Dense(2 * self.latents)(h), 2, axis=-1)
    return mean, logvar


class MLPDecoder(nn.Module):
  output_shape: Sequence[int]
  hidden: int = 500

  @nn.compact
  def __call__(self, z):
    h = nn.relu(nn.Dense(self.hidden)(z))
    return nn.Dense(math.prod(self.output_shape))(h).reshape(z.shape[0], *self.output_shape)


class ChenMLPEncoder(nn.Module):
  latents: int

  @nn.compact
  def __call__(self, x):
    h = x.reshape(x.shape[0], -1)
    for _ in range(2):
      h = nn.relu(nn.Dense(_CHEN_HIDDEN)(h))
    mean, logvar = jnp.split(nn.Dense(2 * self.latents)(h), 2, axis=-1)
    return mean, logvar


class ChenMLPDecoder(nn.Module):
  output_shape: Sequence[int]

  @nn.compact
  def __call__(self, z):
    h = z
    for _ in range(3):
      h = nn.tanh(nn.Dense(_CHEN_HIDDEN)(h))
    return nn.Dense(math.prod(self.output_shape))(h).reshape(z.shape[0], *self.output_shape)


class ConvEncoder(nn.Module):
  latents: int
  conv_impl: str  # 'matmul' or 'xla' (`layers.resolve_impl`).

  @nn.compact
  def __call__(self, x):
    h = x
    for i, channels in enumerate(_CONV_CHANNELS):
      h = nn.relu(layers.conv(channels, self.conv_impl, f'Conv_{i}')(h))
    h = nn.relu(nn.Dense(_CONV_HIDDEN)(h.reshape(h.shape[0], -1)))
    mean, logvar = jnp.split(nn.Dense(2 * self.latents)(h), 2, axis=-1)
    return mean, logvar


class ConvDecoder(nn.Module):
  output_shape: Sequence[int]
  conv_impl: str  # 'matmul' or 'xla' (`layers.resolve_impl`).

  @nn.compact
  def __call__(self, z):
    height, width, channels = self.output_shape
    side = (height // 16, width // 16)
    h = nn.relu(nn.Dense(_CONV_HIDDEN)(z))
    h = nn.relu(nn.Dense(side[0] * side[1] * _CONV_CHANNELS[-1])(h))
    h = h.reshape(z.shape[0], *side, _CONV_CHANNELS[-1])
    for i, features in enumerate(reversed(_CONV_CHANNELS[:-1])):
      h = nn.relu(layers.conv_transpose(features, self.conv_impl, f'ConvTranspose_{i}')(h))
    return layers.conv_transpose(channels, self.conv_impl, 'ConvTranspose_3')(h)


class VAE(nn.Module):
  """q(z|x) by `encoder`, p(x|z) by `decoder` and `likelihood`, prior p(z) = N(0, I)."""

  encoder: nn.Module
  decoder: nn.Module
  likelihood: Likelihood
  latents: int

  def encode(self, x):
    return self.encoder(x)

  def decode(self, z):
    return self.decoder(z)

  def __call__(self, x, key):
    """Encodes, draws z by the reparameterization trick with `key`, decodes."""
    mean, logvar = self.encode(x)
    z = distributions.reparameterize(key, mean, logvar)
    return {'mean': mean, 'logvar': logvar, 'z': z, 'decoder_out': self.decode(z)}

  def sample(self, key, num):
    """New data from the generative model: z ~ p(z), returns E[x | z].

    What makes a VAE generative (docs/exercise_sheet.md, question 2).
    """
    z = jax.random.normal(key, (num, self.latents))
    return self.likelihood.mean(self.decode(z))

  def code(self, x):
    """The deterministic code: the posterior mean."""
    return self.encode(x)[0]

  def reconstruct(self, x):
    """E[x | z = posterior mean]: the deterministic reconstruction shown in figures."""
    return self.likelihood.mean(self.decode(self.encode(x)[0]))

  def traverse(self, x, values):
    """Decodes x's posterior mean with one latent at a time set to each of `values`.

    Returns [latents, len(values), *x.shape[1:]] for a single example x of shape [1, ...].
    """
    mean = self.encode(x)[0][0]
    eye = jnp.eye(self.latents, dtype=mean.dtype)
    codes = mean * (1 - eye)[:, None, :] + eye[:, None, :] * values[None, :, None]
    images = self.likelihood.mean(self.decode(codes.reshape(-1, self.latents)))
    return images.reshape(self.latents, values.shape[0], *images.shape[1:])


class Autoencoder(nn.Module):
  """A deterministic autoencoder: code z = f(x) (the encoder's mean head), p(x|z) by `decoder`.

  With `values_per_latent`, the code is quantized (QLAE's latent, `vae.quantization`): each latent
  snaps to the nearest of its own learned grid of values, and the decoder reads that value with
  the straight-through gradient. Not generative: it has no prior to sample, hence no
  `sample`/`traverse`.
  """

  encoder: nn.Module
  decoder: nn.Module
  likelihood: Likelihood
  latents: int
  values_per_latent: int | None = None

  def setup(self):
    if self.values_per_latent:
      self.quantizer = quantization.QuantizedLatent(self.latents, self.values_per_latent)

  def encode(self, x):
    # The encoder also emits a log-variance head; a deterministic code has no use for it.
    return self.encoder(x)[0]

  def code(self, x):
    """The code the decoder reads: the encoding, or with a grid its quantized value."""
    return self.posterior(x)[0]

  def posterior(self, x):
    """(`code`, the encoder's unused log-variance head): what the evaluation scores, in the form
    of `VAE.encode`, so a QLAE is scored on the quantized code its decoder reads."""
    encoding, logvar = self.encoder(x)
    return (self.quantizer(encoding)['quantized'] if self.values_per_latent else encoding), logvar

  def decode(self, z):
    return self.decoder(z)

  def __call__(self, x, key=None):
    """Encodes and decodes; `key` is unused, accepted so both modules are called alike.

    With a grid, also the quantized code and QLAE's per-example terms (`quantize`'s dict)."""
    del key
    code = self.encode(x)
    if not self.values_per_latent:
      return {'code': code, 'decoder_out': self.decode(code)}
    quantized = self.quantizer(code)
    return {**quantized, 'decoder_out': self.decode(quantized['quantized'])}

  def reconstruct(self, x):
    """E[x | z = f(x)] (quantized, with a grid)."""
    return self.likelihood.mean(self.decode(self.code(x)))


def create_model(config, observation_shape, variational,
                 values_per_latent=None) -> VAE | Autoencoder:
  """The model named by `config.model`, `config.latents`, `config.likelihood`: a `VAE` when
  `variational`, else an `Autoencoder`, quantized on grids of `values_per_latent` when given; a
  conv model's convolutions by `config.conv_impl` (both forms share one parameter tree)."""
  likelihood = Likelihood(config.likelihood, config.get('fixed_logvar', 0.0))
  out_shape = (*observation_shape[:-1], observation_shape[-1] * likelihood.params_per_channel)
  if config.model == 'mlp':
    encoder = MLPEncoder(config.latents, config.hidden)
    decoder = MLPDecoder(out_shape, config.hidden)
  elif config.model == 'chen_mlp':
    encoder = ChenMLPEncoder(config.latents)
    decoder = ChenMLPDecoder(out_shape)
  elif config.model == 'conv':
    if len(observation_shape) != 3 or observation_shape[0] % 16 or observation_shape[1] % 16:
      raise UserInputError(
          f'--config.model=conv needs [height, width, channels] images with sides divisible by 16;'
          f' the dataset gives {tuple(observation_shape)} (use --config.model=mlp)')
    # Resolved here, once: the modules (static in the jitted step) hold 'matmul' or 'xla'.
    conv_impl = layers.resolve_impl(config.get('conv_impl', 'auto'))
    encoder = ConvEncoder(config.latents, conv_impl)
    decoder = ConvDecoder(out_shape, conv_impl)
  else:
    raise UserInputError(
        f"unknown model '{config.model}' (--config.model); allowed: {', '.join(ARCHITECTURES)}")
  if variational:
    return VAE(encoder, decoder, likelihood, config.latents)
  return Autoencoder(encoder, decoder, likelihood, config.latents, values_per_latent)
