"""Tests for vae.evaluation.marginal_likelihood (the IWAE bound) against independent references.

The reference model is linear-Gaussian: p(z) = N(0, I_D), p(x|z) = N(Wz + b, σ²I), whose
marginal log p(x) = log N(x; b, WWᵀ + σ²I) comes from scipy.stats.multivariate_normal and whose
posterior is Gaussian in closed form. W has orthogonal columns, so WᵀW is diagonal and so is
the exact posterior, which our diagonal q can then represent exactly.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import scipy.special
import scipy.stats

from vae import distributions
from vae import models
from vae.errors import UserInputError
from vae.evaluation import marginal_likelihood

D, DATA_DIM = 2, 3
WRONG_Q = (0.7, 2.5)  # q(z|x): the exact posterior's mean + 0.7, its variance × 2.5.


def _linear_gaussian(seed=0, num=20):
  """W = Q·diag(s) (orthogonal columns), b, σ, and `num` data points drawn from the model."""
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.normal(size=(DATA_DIM, D)))
  w = q * np.array([1.5, 0.8])
  b = rng.normal(size=DATA_DIM)
  sigma = 0.6
  z = rng.normal(size=(num, D))
  x = z @ w.T + b + sigma * rng.normal(size=(num, DATA_DIM))
  return w, b, sigma, x


W, B, SIGMA, X = _linear_gaussian()


def _exact_log_px(x):
  """The reference log p(x): scipy.stats.multivariate_normal on the marginal N(b, WWᵀ + σ²I)."""
  cov = W @ W.T + SIGMA**2 * np.eye(DATA_DIM)
  return scipy.stats.multivariate_normal(mean=B, cov=cov).logpdf(x)


def _q(x, shift=0.0, scale=1.0):
  """q(z|x): the exact posterior N(Σ Wᵀ(x − b)/σ², Σ = (I + WᵀW/σ²)⁻¹), mean shifted, var scaled."""
  var = 1.0 / (1.0 + np.diag(W.T @ W) / SIGMA**2)
  mean = ((x - B) @ W / SIGMA**2) * var
  return mean + shift, np.broadcast_to(var * scale, mean.shape)


# q travels inside the input, [x | mean | logvar], rather than in a closure: every q (exact or
# wrong) then runs through the same compiled program for a given K and chunk size.
def _packed(x, shift=0.0, scale=1.0):
  """The input [N, DATA_DIM + 2D] (float32) that `_encode` and `_log_likelihood` read."""
  mean, var = _q(x, shift, scale)
  return jnp.asarray(np.concatenate([x, mean, np.log(var)], axis=1), jnp.float32)


def _encode(packed):
  return packed[:, DATA_DIM:DATA_DIM + D], packed[:, DATA_DIM + D:]


def _log_likelihood(packed, z):
  mean = z @ jnp.asarray(W.T, jnp.float32) + jnp.asarray(B, jnp.float32)
  return distributions.gaussian_log_prob(packed[:, :DATA_DIM], mean, 2 * np.log(SIGMA)).sum(-1)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _vmapped(keys, packed, num_samples, chunk_size):
  """iwae_log_px for each of `keys`: [R, N]."""
  bound = functools.partial(marginal_likelihood.iwae_log_px, encode=_encode, log_likelihood=_log_likelihood,
                            x=packed, num_samples=num_samples, chunk_size=chunk_size)
  return jax.vmap(bound)(keys)


def _repeats(packed, num_samples, chunk_size, seed, num_keys=200):
  """Bounds [num_keys, N] in float64 from independent keys."""
  keys = jax.random.split(jax.random.key(seed), num_keys)
  return np.asarray(_vmapped(keys, packed, num_samples, chunk_size), np.float64)


def _mean_and_se(values):
  """Mean over keys and examples of [R, N] values, and its standard error (examples fixed)."""
  r, n = values.shape
  return values.mean(), np.sqrt(values.var(axis=0, ddof=1).sum() / r) / n


def test_exact_posterior_gives_exact_log_px_for_any_k_and_chunking():
  expected = _exact_log_px(X)
  # With q = p(z|x) every weight is p(x), for every key: any padding left unmasked, or a mean
  # divided by the padded count, would show as an offset of log(chunks·chunk / K). (10, 3) and
  # (100, 100) are the programs the tests below compile anyway.
  for num_samples, chunk_size in [(1, 1), (7, 3), (64, 10), (10, 3), (100, 100)]:
    got = _repeats(_packed(X), num_samples, chunk_size, seed=1)
    assert got.shape == (200, X.shape[0])
    np.testing.assert_allclose(got, np.broadcast_to(expected, got.shape), rtol=1e-5, atol=1e-5,
                               err_msg=f'K={num_samples}, chunk={chunk_size}')


def test_matches_numpy_logmeanexp_on_the_same_noise():
  x, key, num_samples, chunk = X[:5], jax.random.key(2), 10, 3
  got = marginal_likelihood.iwae_log_px(key, _encode, _log_likelihood, _packed(x, 0.5, 2.0), num_samples,
                               chunk)  # Eager: the path without jit.
  # Reference: the documented noise layout (chunk c from fold_in(key, c), shape [B, chunk, D],
  # first K kept), then the weights by scipy.stats and a scipy logsumexp, in float64.
  noise = jax.jit(lambda k, c: jax.random.normal(jax.random.fold_in(k, c), (5, chunk, D)))
  eps = np.concatenate([np.asarray(noise(key, c)) for c in range(4)], axis=1)
  eps = eps[:, :num_samples].astype(np.float64)
  mean, var = _q(x, 0.5, 2.0)
  z = mean[:, None] + np.sqrt(var)[:, None] * eps
  log_q = scipy.stats.norm(mean[:, None], np.sqrt(var)[:, None]).logpdf(z).sum(-1)
  log_prior = scipy.stats.norm().logpdf(z).sum(-1)
  log_lik = scipy.stats.norm(z @ W.T + B, SIGMA).logpdf(x[:, None]).sum(-1)
  expected = scipy.special.logsumexp(log_lik + log_prior - log_q, axis=1) - np.log(10)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_wrong_q_bound_is_below_log_px_tightens_with_k_and_k1_is_the_elbo():
  exact = _exact_log_px(X)
  gaps = {}
  for seed, k in enumerate((1, 10, 100, 1000)):
    values = _repeats(_packed(X, *WRONG_Q), k, min(k, 100), seed=10 + seed)
    gaps[k] = _mean_and_se(exact - values)
  for k, (gap, se) in gaps.items():
    assert gap > -3 * se, (k, gap, se)  # E[L_K] ≤ log p(x) (Jensen).
  for small, large in ((1, 10), (10, 100), (100, 1000)):
    # Theorem 1 of Burda et al.: E[L_K] non-decreasing; keys differ, so the SEs add in quadrature.
    # Here it strictly tightens (measured gaps ≈ 3.0, 0.26, 0.025, 0.002 nats), which we assert
    # with a 3-SE margin: stronger than "does not decrease", and far from the noise.
    (g_small, se_small), (g_large, se_large) = gaps[small], gaps[large]
    assert g_large < g_small - 3 * np.hypot(se_small, se_large), (small, large, gaps)
  assert gaps[1000][0] < 0.01 * gaps[1][0], gaps
  # K = 1 is the ELBO. Reference, by hand: E_q[log N(x; Wz+b, σ²I)] = log N(x; Wμ+b, σ²I)
  # − tr(W diag(v) Wᵀ)/(2σ²), and KL(q ‖ N(0, I)) = ½ Σ (μ² + v − 1 − log v).
  mean, var = _q(X, *WRONG_Q)
  expected_lik = scipy.stats.norm(mean @ W.T + B, SIGMA).logpdf(X).sum(-1)
  expected_lik -= np.einsum('ij,nj,ij->n', W, var, W) / (2 * SIGMA**2)
  kl = 0.5 * (mean**2 + var - 1 - np.log(var)).sum(-1)
  elbo_gap = (exact - (expected_lik - kl)).mean()
  gap1, se1 = gaps[1]
  assert abs(gap1 - elbo_gap) < 4 * se1, (gap1, elbo_gap, se1)


def test_uneven_chunking_is_unbiased():
  whole = _mean_and_se(_repeats(_packed(X, *WRONG_Q), 10, 10, seed=3))
  uneven = _mean_and_se(_repeats(_packed(X, *WRONG_Q), 10, 3, seed=4))
  # Unmasked padding (12 samples for 10) would shift the chunk-3 mean by about log(12/10) = 0.18
  # nats, a mean divided by 12 by −0.18; the standard error of the difference is about 0.02.
  assert abs(uneven[0] - whole[0]) < 4 * np.hypot(uneven[1], whole[1]), (whole, uneven)


@functools.lru_cache(maxsize=None)
def _tiny_vae():
  """An untrained 8×8 Bernoulli MLP VAE, its params and 10 random binary images."""
  config = ml_collections.ConfigDict(
      dict(model='mlp', latents=2, hidden=16, likelihood='bernoulli', method='beta_vae'))
  model = models.create_model(config, (8, 8, 1), variational=True)
  init = jax.jit(model.init)  # One compile instead of one per eager initializer op.
  params = init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), jax.random.key(1))['params']
  rng = np.random.default_rng(0)
  images = (rng.random((10, 8, 8, 1)) < 0.5).astype(np.float32)
  return model, params, images


def _hand_loop(model, params, images, key, num_samples, chunk_size, batch_size):
  """Reference for vae_log_px: the documented batching, padding and keys, written out."""
  encode = lambda x: model.apply({'params': params}, x, method='encode')  # noqa: E731
  log_lik = lambda x, z: model.likelihood.log_prob(  # noqa: E731
      x, model.apply({'params': params}, z, method='decode'))
  bound = jax.jit(functools.partial(marginal_likelihood.iwae_log_px, encode=encode,
                                    log_likelihood=log_lik, num_samples=num_samples,
                                    chunk_size=chunk_size))
  values = []
  for i, start in enumerate(range(0, len(images), batch_size)):
    x = np.asarray(images[start:start + batch_size])
    size = len(x)
    x = np.concatenate([x, np.repeat(x[-1:], batch_size - size, axis=0)])
    out = bound(jax.random.fold_in(key, i), x=jnp.asarray(x))
    values.append(np.asarray(out, np.float64)[:size])
  return np.concatenate(values).mean()


def test_vae_log_px_equals_hand_loop():
  # Three batches of 4, the last padded; K, chunk and batch size as in the next test (one compile).
  batch_size = 4
  model, params, images = _tiny_vae()
  key = jax.random.key(3)
  got = marginal_likelihood.vae_log_px(model, params, images, key, 16, 5, batch_size)
  assert isinstance(got, float) and np.isfinite(got)
  expected = _hand_loop(model, params, images, key, 16, 5, batch_size)
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_vae_log_px_k16_is_above_k1():
  model, params, images = _tiny_vae()
  run = lambda seed, k: marginal_likelihood.vae_log_px(  # noqa: E731
      model, params, images, jax.random.key(seed), k, 5, 4)
  k1 = np.array([run(s, 1) for s in range(30)])
  k16 = np.array([run(100 + s, 16) for s in range(30)])
  se = lambda v: v.std(ddof=1) / np.sqrt(len(v))  # noqa: E731
  # E[L_16] ≥ E[L_1] = the mean ELBO (Burda et al. Thm 1); an untrained encoder makes the gain
  # several nats against an SE below one, so we ask for a strict gain beyond 3 standard errors.
  assert np.isfinite(k1).all() and np.isfinite(k16).all()
  assert k16.mean() > k1.mean() + 3 * np.hypot(se(k1), se(k16)), (k1.mean(), k16.mean())


@pytest.mark.parametrize('bad', [0, -1])
def test_nonpositive_num_samples_raises(bad):
  model, params, images = _tiny_vae()
  with pytest.raises(UserInputError, match='--config.num_importance_samples'):
    marginal_likelihood.vae_log_px(model, params, images, jax.random.key(0), bad, 4, 10)
  packed = _packed(X)
  with pytest.raises(UserInputError, match='--config.num_importance_samples'):
    marginal_likelihood.iwae_log_px(jax.random.key(0), _encode, _log_likelihood, packed, bad, 4)
  with pytest.raises(UserInputError, match='--config.importance_chunk_size'):
    marginal_likelihood.iwae_log_px(jax.random.key(0), _encode, _log_likelihood, packed, 4, bad)
