"""Observation models: means and samples against their definitions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vae.errors import UserInputError
from vae.likelihoods import Likelihood


def test_means():
  logits = jnp.array([[-2.0, 0.0, 3.0]])
  # The Bernoulli mean is the logistic function 1 / (1 + e^-l).
  np.testing.assert_allclose(Likelihood('bernoulli').mean(logits), 1 / (1 + np.exp(-logits)),
                             rtol=1e-6)
  params = jnp.array([[0.3, -1.0]])  # [mean, logvar] for one channel.
  np.testing.assert_allclose(Likelihood('gaussian_learned').mean(params), [[0.3]])
  np.testing.assert_allclose(Likelihood('gaussian_fixed').mean(params), params)


@pytest.mark.parametrize('name,params,mean,variance', [
    ('bernoulli', jnp.full((200_000, 1), np.log(3.0)), 0.75, 0.75 * 0.25),
    ('gaussian_learned', jnp.tile(jnp.array([[2.0, np.log(0.5)]]), (200_000, 1)), 2.0, 0.5),
    ('gaussian_fixed', jnp.full((200_000, 1), -1.0), -1.0, np.exp(0.7)),
])
def test_sample_moments(name, params, mean, variance):
  likelihood = Likelihood(name, fixed_logvar=0.7)
  draws = np.asarray(likelihood.sample(jax.random.key(0), params))
  n = len(draws)
  # The sample mean has standard error sqrt(variance / n): allow 5 of them.
  assert abs(draws.mean() - mean) < 5 * np.sqrt(variance / n)
  assert abs(draws.var() - variance) < 0.02 * variance


def test_unknown_name():
  with pytest.raises(UserInputError, match=r"unknown likelihood 'laplace' \(--config.likelihood\)"):
    Likelihood('laplace')
