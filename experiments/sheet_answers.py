"""The exercise sheet's numeric answers, computed by the library: `python -m experiments.sheet_answers`.

One line per number the sheet asks for (and a few that illustrate its formulas), each starting
with its question: `q5 KL(P||Q), Q = 1/3: 0.0852996`. docs/exercise_sheet.md maps every question
to the module and test that answer it; --seed sets the key of the two lines that draw noise.
"""

import jax
import jax.numpy as jnp
from absl import flags

from experiments import cli
from vae import distributions
from vae import toy_vae

_SEED = flags.DEFINE_integer('seed', 0, 'Key of the drawn ε (question 6) and x (question 7b).')

# The sheet's data.
_BERNOULLI = (0.3, 0.5)  # An illustration of question 4's formula: Bern(0.3) against Bern(0.5).
_P5 = (0.36, 0.48, 0.16)
_Q5 = {'1/3': (1 / 3,) * 3, '0.333 as printed': (0.333,) * 3}
_X7 = 2.0
_EPS7 = (0.5, 0.0, -0.5)


def _line(label, *values):
  print(f'{label}: ' + ', '.join(f'{float(v):.7g}' for v in values))


def _loss():
  # Question 3's two terms for question 7's one-feature VAE at x = 2 and its three z.
  x, eps = jnp.float32(_X7), jnp.array(_EPS7, jnp.float32)
  enc_mean, enc_sigma = toy_vae.toy_encoder(x)
  for reading in toy_vae.SIGMA_READINGS:
    out = toy_vae.toy_vae_pass(x, eps, reading)
    dec_logvar = toy_vae.logvar_of_sigma(out['dec_sigma'], reading)
    _line(f'q3 -log p(x = 2 | z) for the z of q7a, Sigma read as {reading}',
          *-distributions.gaussian_log_prob(x, out['dec_mean'], dec_logvar))
    enc_logvar = toy_vae.logvar_of_sigma(enc_sigma, reading)
    _line(f'q3 KL(q(z | x = 2)||N(0, 1)), Sigma read as {reading}',
          distributions.gaussian_kl(enc_mean[None], enc_logvar[None]))


def _bernoulli_kl():
  p, q = (jnp.float32(v) for v in _BERNOULLI)
  _line('q4 KL(Bern(0.3)||Bern(0.5))', distributions.bernoulli_kl(p, q))
  _line('q4 KL(Bern(0.5)||Bern(0.3))', distributions.bernoulli_kl(q, p))
  _line('q4 KL of the two-category distributions (0.3, 0.7)||(0.5, 0.5)',
        distributions.categorical_kl(jnp.array([p, 1 - p]), jnp.array([q, 1 - q])))


def _discrete_kl():
  p = jnp.array(_P5)
  for name, q in _Q5.items():
    q = jnp.array(q)
    _line(f'q5 KL(P||Q), Q = {name}', distributions.categorical_kl(p, q))
    _line(f'q5 KL(Q||P), Q = {name}', distributions.categorical_kl(q, p))


def _reparameterization(key):
  mean, sigma = toy_vae.toy_encoder(jnp.float32(_X7))
  logvar = toy_vae.logvar_of_sigma(sigma, 'variance')
  eps = jax.random.normal(key, (), jnp.float32)
  grad_mean, grad_logvar = jax.grad(distributions.sample_from_noise, argnums=(0, 1))(
      mean, logvar, eps)
  _line('q6 eps drawn from N(0, 1)', eps)
  _line('q6 z = u + Sigma^(1/2) eps at x = 2 (u = 10, Sigma = 8)',
        distributions.sample_from_noise(mean, logvar, eps))
  _line('q6 dz/du, dz/dlog Sigma', grad_mean, grad_logvar)


def _toy_vae(key):
  x, eps = jnp.float32(_X7), jnp.array(_EPS7, jnp.float32)
  enc_mean, enc_sigma = toy_vae.toy_encoder(x)
  _line('q7a u_phi(2), Sigma_phi(2)', enc_mean, enc_sigma)
  for reading in toy_vae.SIGMA_READINGS:
    out = toy_vae.toy_vae_pass(x, eps, reading)
    _line(f'q7a z for eps = 0.5, 0, -0.5, Sigma read as {reading}', *out['z'])
    _line(f'q7b u_theta(z), Sigma read as {reading}', *out['dec_mean'])
    _line(f'q7b Sigma_theta(z), Sigma read as {reading}', *out['dec_sigma'])
    dec_logvar = toy_vae.logvar_of_sigma(out['dec_sigma'], reading)
    noise = jax.random.normal(key, out['z'].shape, jnp.float32)
    _line(f'q7b eps drawn for x, Sigma read as {reading}', *noise)
    _line(f'q7b x ~ N(u_theta(z), Sigma_theta(z)), Sigma read as {reading}',
          *distributions.sample_from_noise(out['dec_mean'], dec_logvar, noise))


def _answers(seed):
  key_eps, key_x = jax.random.split(jax.random.key(seed))
  _loss()
  _bernoulli_kl()
  _discrete_kl()
  _reparameterization(key_eps)
  _toy_vae(key_x)


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  cli.run(_answers, _SEED.value)


if __name__ == '__main__':
  cli.main(main)
