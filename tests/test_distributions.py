"""Tests for vae.distributions against independent references.

Each expected value names its source in a comment: a closed form, scipy, a
brute-force numpy computation, or the exercise sheet's worked answers
(docs/exercise_sheet.md maps each question to its test).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

from vae import distributions as D


def f32(x):
  return jnp.asarray(x, dtype=jnp.float32)


# --- Discrete KL, P = (0.36, 0.48, 0.16), Q uniform (docs/exercise_sheet.md, question 5). --

P5 = np.array([0.36, 0.48, 0.16])


def test_sheet_ex5_uniform_q_matches_printed_values():
  q = np.full(3, 1.0 / 3.0)
  kl_pq = float(D.categorical_kl(f32(P5), f32(q)))
  kl_qp = float(D.categorical_kl(f32(q), f32(P5)))
  # The sheet's printed answers (docs/exercise_sheet.md, question 5).
  np.testing.assert_allclose(kl_pq, 0.0852996, rtol=2e-6)
  np.testing.assert_allclose(kl_qp, 0.097455, rtol=2e-6)
  # scipy.stats.entropy(p, q) is the relative entropy Σ p log(p/q) in nats.
  np.testing.assert_allclose(kl_pq, scipy.stats.entropy(P5, q), rtol=2e-6)
  np.testing.assert_allclose(kl_qp, scipy.stats.entropy(q, P5), rtol=2e-6)
  # The question's point: KL is not symmetric.
  assert abs(kl_pq - kl_qp) > 0.01


def test_sheet_ex5_rounded_q():
  # The sheet writes Q = 0.333 (sums to 0.999) but its printed 0.0852996 holds
  # only for Q = 1/3 exactly; with the literal 0.333 the value is ≈ 0.0863.
  q = np.full(3, 0.333)
  expected = np.sum(P5 * np.log(P5 / q))  # brute-force numpy, float64
  got = float(D.categorical_kl(f32(P5), f32(q)))
  np.testing.assert_allclose(got, expected, rtol=2e-6)
  assert round(got, 4) == 0.0863
  assert abs(got - 0.0852996) > 5e-4  # really differs from the printed value


# --- Bernoulli KL is the two-category KL (docs/exercise_sheet.md, question 4). --

GRID = np.array([0.0, 1e-6, 0.01, 0.2, 0.5, 0.7, 0.99, 1.0 - 1e-6, 1.0])


def test_sheet_ex4_bernoulli_equals_two_category_kl():
  p, q = np.meshgrid(GRID, GRID[1:-1], indexing="ij")  # q strictly inside (0,1)
  # Round to float32 first so every path sees the same 1 − q (near q = 1 − 1e-6
  # float32 rounding of q alone changes 1 − q by 1%).
  p, q = p.astype(np.float32), q.astype(np.float32)
  got = D.bernoulli_kl(p, q)
  two_cat = D.categorical_kl(np.stack([p, 1 - p], -1), np.stack([q, 1 - q], -1))
  np.testing.assert_allclose(got, two_cat, rtol=1e-5, atol=1e-7)
  # Sheet's formula p log(p/q) + (1-p) log((1-p)/(1-q)), via scipy.special.rel_entr
  # in float64 (which implements 0·log0 = 0).
  p, q, p1, q1 = (a.astype(np.float64) for a in (p, q, 1 - p, 1 - q))
  ref = scipy.special.rel_entr(p, q) + scipy.special.rel_entr(p1, q1)
  np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)
  assert np.all(np.isfinite(got))


def test_sheet_ex4_endpoints_closed_form():
  q = np.array([0.1, 0.5, 0.9])
  # Closed form: KL(Bern(1)‖Bern(q)) = −log q, KL(Bern(0)‖Bern(q)) = −log(1−q).
  np.testing.assert_allclose(D.bernoulli_kl(f32(1.0), f32(q)), -np.log(q), rtol=1e-6)
  np.testing.assert_allclose(D.bernoulli_kl(f32(0.0), f32(q)), -np.log1p(-q), rtol=1e-6)
  np.testing.assert_allclose(D.bernoulli_kl(f32(q), f32(q)), 0.0, atol=1e-7)


def test_bernoulli_kl_from_logits_equals_probabilities():
  lp, lq = np.meshgrid(np.linspace(-8, 8, 9), np.linspace(-6, 6, 7), indexing="ij")
  got = D.bernoulli_kl_from_logits(f32(lp), f32(lq))
  # Reference: probability form in float64 via scipy.special.expit / rel_entr.
  p, q = scipy.special.expit(lp), scipy.special.expit(lq)
  ref = scipy.special.rel_entr(p, q) + scipy.special.rel_entr(1 - p, 1 - q)
  np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(got, D.bernoulli_kl(f32(p), f32(q)), rtol=1e-3, atol=1e-5)


# --- Gaussian KL. ------------------------------------------------------------

def test_gaussian_kl_closed_form_values():
  zeros, ones = jnp.zeros(10), jnp.ones(10)
  # Closed form 0.5 Σ (μ² + σ² − 1 − log σ²).
  assert float(D.gaussian_kl(zeros, zeros)) == 0.0
  np.testing.assert_allclose(D.gaussian_kl(ones, zeros), 5.0, rtol=1e-6)
  np.testing.assert_allclose(D.gaussian_kl(ones, ones), 0.5 * (math.e - 1) * 10, rtol=1e-6)
  np.testing.assert_allclose(D.gaussian_kl(ones, ones), 8.591409, rtol=1e-6)
  per_dim = D.gaussian_kl_per_dim(ones, zeros)
  assert per_dim.shape == (10,)
  np.testing.assert_allclose(per_dim, 0.5, rtol=1e-6)


def test_gaussian_kl_monte_carlo():
  mean = f32([0.3, -1.2, 2.0, 0.0])
  logvar = f32([0.5, -1.0, 0.2, -0.3])
  n = 200_000
  z = D.reparameterize(jax.random.key(0), jnp.broadcast_to(mean, (n, 4)), logvar)
  # Monte Carlo E_q[log q(z) − log p(z)], p = N(0, I).
  log_ratio = jnp.sum(D.gaussian_log_prob(z, mean, logvar)
                      - D.gaussian_log_prob(z, 0.0, 0.0), axis=-1)
  estimate = float(jnp.mean(log_ratio))
  stderr = float(jnp.std(log_ratio)) / math.sqrt(n)
  assert abs(estimate - float(D.gaussian_kl(mean, logvar))) < 4 * stderr


def test_diag_gaussian_kl_standard_prior_equals_gaussian_kl():
  key_m, key_v = jax.random.split(jax.random.key(1))
  mean = jax.random.normal(key_m, (5, 7))
  logvar = 2.0 * jax.random.normal(key_v, (5, 7))
  got = D.diag_gaussian_kl(mean, logvar, jnp.zeros_like(mean), jnp.zeros_like(logvar))
  assert got.shape == (5,)
  np.testing.assert_allclose(got, D.gaussian_kl(mean, logvar), rtol=1e-5, atol=1e-6)


def test_diag_gaussian_kl_two_gaussians():
  mq, lq = np.array([0.5, -1.0, 2.0]), np.array([0.3, -0.7, 1.1])
  mp, lp = np.array([-0.2, 0.4, 1.0]), np.array([-0.5, 0.6, 0.0])
  got = float(D.diag_gaussian_kl(f32(mq), f32(lq), f32(mp), f32(lp)))
  # Closed form log(σp/σq) + (σq² + (μq−μp)²)/(2σp²) − ½, numpy float64.
  sq, sp = np.exp(0.5 * lq), np.exp(0.5 * lp)
  closed = np.sum(np.log(sp / sq) + (sq**2 + (mq - mp)**2) / (2 * sp**2) - 0.5)
  np.testing.assert_allclose(got, closed, rtol=1e-5)
  # Numerical integration of ∫ q log(q/p) with scipy.stats.norm, per dimension.
  quad = 0.0
  for i in range(3):
    q = scipy.stats.norm(mq[i], sq[i])
    p = scipy.stats.norm(mp[i], sp[i])
    quad += scipy.integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)),
                                 mq[i] - 12 * sq[i], mq[i] + 12 * sq[i])[0]
  np.testing.assert_allclose(got, quad, rtol=1e-5)
  # Asymmetric in general.
  back = float(D.diag_gaussian_kl(f32(mp), f32(lp), f32(mq), f32(lq)))
  assert abs(back - got) > 1e-2


# --- Log-probabilities. ------------------------------------------------------

def test_bernoulli_log_prob_matches_scipy():
  logits = np.linspace(-6, 6, 13)
  probs = scipy.special.expit(logits)
  for x in (0.0, 1.0):
    got = D.bernoulli_log_prob(f32(logits), f32(x))
    ref = scipy.stats.bernoulli.logpmf(int(x), probs)  # scipy.stats reference
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_bernoulli_log_prob_extreme_logits():
  logits = f32([100.0, -100.0])
  for x in (0.0, 1.0):
    got = np.asarray(D.bernoulli_log_prob(logits, f32(x)))
    assert np.all(np.isfinite(got))
    # Limit: log σ(l) = −log(1 + e^{−l}) = −logaddexp(0, −l), numpy float64.
    sign = 1.0 if x == 1.0 else -1.0
    ref = -np.logaddexp(0.0, -sign * np.array([100.0, -100.0]))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_gaussian_log_prob_matches_scipy():
  x = np.linspace(-4, 4, 9)
  mean, logvar = 0.7, -0.4
  got = D.gaussian_log_prob(f32(x), f32(mean), f32(logvar))
  ref = scipy.stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * logvar))
  np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


# --- Reparameterization trick (docs/exercise_sheet.md, question 6). ---------

def test_reparameterize_keys():
  mean, logvar = jnp.zeros(6), jnp.zeros(6)
  a = D.reparameterize(jax.random.key(3), mean, logvar)
  b = D.reparameterize(jax.random.key(3), mean, logvar)
  c = D.reparameterize(jax.random.key(4), mean, logvar)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)
  assert a.dtype == jnp.float32 and a.shape == (6,)


def test_reparameterize_moments():
  n = 100_000
  mean, logvar = 1.5, -0.8
  z = np.asarray(D.reparameterize(jax.random.key(5), jnp.full((n,), mean), f32(logvar)),
                 dtype=np.float64)
  var = math.exp(logvar)
  # Standard errors of the sample mean (σ/√n) and variance (σ²√(2/(n−1))).
  assert abs(z.mean() - mean) < 5 * math.sqrt(var / n)
  assert abs(z.var(ddof=1) - var) < 5 * var * math.sqrt(2 / (n - 1))


def test_reparameterize_gradients():
  eps, mean, logvar = f32(0.7), f32(-0.3), f32(0.9)
  d_mean, d_logvar = jax.grad(D.sample_from_noise, argnums=(0, 1))(mean, logvar, eps)
  # Closed form: ∂z/∂μ = 1, ∂z/∂logvar = ½ e^{logvar/2} ε.
  np.testing.assert_allclose(d_mean, 1.0)
  np.testing.assert_allclose(d_logvar, 0.5 * math.exp(0.5 * 0.9) * 0.7, rtol=1e-6)
  # Same through reparameterize: eps recovered from z for the given key.
  key = jax.random.key(6)
  eps_k = jax.random.normal(key, (), jnp.float32)
  g = jax.grad(lambda lv: D.reparameterize(key, mean, lv))(logvar)
  np.testing.assert_allclose(g, 0.5 * jnp.exp(0.5 * logvar) * eps_k, rtol=1e-6)


# --- The toy VAE (docs/exercise_sheet.md, question 7). ----------------------

def relu(v):
  return jnp.maximum(v, 0.0)


def enc_mean(x):  # u_φ(x) = ReLU(2 ReLU(3x − 1))
  return relu(2 * relu(3 * x - 1))


def enc_sigma(x):  # Σ_φ(x) = ReLU(ReLU(3x + 1) + 1)
  return relu(relu(3 * x + 1) + 1)


def dec_mean(z):  # u_θ(z) = ReLU(−z + 12)
  return relu(-z + 12)


def dec_sigma(z):  # Σ_θ(z) = ReLU(2z − 10)
  return relu(2 * z - 10)


EPS7 = f32([0.5, 0.0, -0.5])


def test_sheet_ex7_encoder_values():
  x = f32(2.0)
  assert float(enc_mean(x)) == 10.0 and float(enc_sigma(x)) == 8.0  # sheet's answer 7a


def test_sheet_ex7_sigma_as_variance():
  # Reading (a): Σ is a variance, z = u + Σ^½ ε (the sheet's own question 6 and
  # this codebase's logvar convention). Expected values: closed form, numpy.
  x = f32(2.0)
  z = D.sample_from_noise(enc_mean(x), jnp.log(enc_sigma(x)), EPS7)
  z_ref = 10.0 + math.sqrt(8.0) * np.array([0.5, 0.0, -0.5])  # 10 ± √2
  np.testing.assert_allclose(z, z_ref, rtol=1e-6)
  np.testing.assert_allclose(z, [11.414214, 10.0, 8.585786], rtol=1e-6)
  np.testing.assert_allclose(dec_mean(z), 12.0 - z_ref, rtol=1e-5)  # (0.586, 2, 3.414)
  np.testing.assert_allclose(dec_sigma(z), 2 * z_ref - 10.0, rtol=1e-6)  # (12.83, 10, 7.17)


def test_sheet_ex7_sigma_as_std_matches_printed_answer():
  # Reading (b): Σ is a standard deviation, z = u + Σ ε, i.e. logvar = 2 log Σ.
  # The sheet's printed answer uses this reading (z = 10 ± 8·0.5 = 10 ± 4),
  # which contradicts its question 6 (Σ^½ ε); both are tested, the library
  # itself always treats Σ = exp(logvar) as a variance.
  x = f32(2.0)
  z = D.sample_from_noise(enc_mean(x), 2.0 * jnp.log(enc_sigma(x)), EPS7)
  np.testing.assert_allclose(z, [14.0, 10.0, 6.0], rtol=1e-6)  # sheet's answer 7a
  np.testing.assert_allclose(dec_mean(z), [0.0, 2.0, 6.0], atol=1e-5)  # sheet's answer 7b
  np.testing.assert_allclose(dec_sigma(z), [18.0, 10.0, 2.0], rtol=1e-6)  # sheet's answer 7b


def test_sheet_ex7_decoder_sampling():
  # Question 7b: draw x from N(0, 18), N(2, 10), N(6, 2) (second argument a variance).
  mean, var = np.array([0.0, 2.0, 6.0]), np.array([18.0, 10.0, 2.0])
  n = 100_000
  x = D.reparameterize(jax.random.key(7), jnp.broadcast_to(f32(mean), (n, 3)),
                       jnp.log(f32(var)))
  x = np.asarray(x, dtype=np.float64)
  # Standard errors of the sample mean and variance of a Gaussian.
  assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / n))
  assert np.all(np.abs(x.var(0, ddof=1) - var) < 5 * var * np.sqrt(2 / (n - 1)))


# --- jit and float32 extremes. ----------------------------------------------

def _all_outputs(mean, logvar, p, q, logits, x):
  return dict(
      z=D.sample_from_noise(mean, logvar, jnp.ones_like(mean)),
      kl_dim=D.gaussian_kl_per_dim(mean, logvar),
      kl=D.gaussian_kl(mean, logvar),
      kl_diag=D.diag_gaussian_kl(mean, logvar, -mean, -logvar),
      bern_kl=D.bernoulli_kl(p, q),
      bern_kl_logits=D.bernoulli_kl_from_logits(logits, -logits),
      cat_kl=D.categorical_kl(p, q),
      bern_lp=D.bernoulli_log_prob(logits, x),
      gauss_lp=D.gaussian_log_prob(x, mean, logvar),
  )


def test_jit_matches_eager_and_is_finite_at_extremes():
  mean = f32([0.0, 3.0, -3.0, 0.0])
  logvar = f32([30.0, -30.0, 0.0, 1e-3])
  p = f32([0.0, 1.0, 0.5, 0.25])      # probabilities 0 and 1 included
  q = f32([0.5, 0.999, 0.5, 0.75])    # q strictly inside (0,1): KL is defined
  logits = f32([100.0, -100.0, 0.0, 30.0])
  x = f32([0.0, 1.0, 1.0, 0.3])
  eager = _all_outputs(mean, logvar, p, q, logits, x)
  jitted = jax.jit(_all_outputs)(mean, logvar, p, q, logits, x)
  jitted_rs = jax.jit(D.reparameterize)(jax.random.key(0), mean, logvar)
  for name, value in list(jitted.items()) + [("reparameterize", jitted_rs)]:
    assert value.dtype == jnp.float32, name
    assert np.all(np.isfinite(value)), name
  for name in eager:
    np.testing.assert_allclose(jitted[name], eager[name], rtol=1e-6, err_msg=name)
  # Spot values at the extremes, closed form: KL per dim at logvar = ±30.
  np.testing.assert_allclose(eager["kl_dim"][0], 0.5 * (math.exp(30) - 31), rtol=1e-6)
  np.testing.assert_allclose(eager["kl_dim"][1], 0.5 * (9 + math.exp(-30) - 1 + 30), rtol=1e-6)
  # Near collapse (μ = 0, logvar ≈ 0) expm1 keeps the ~2.5e-7 KL accurate;
  # exp(lv) − 1 in float32 would be off by ~10%. Closed form in float64.
  lv = float(np.float32(1e-3))
  np.testing.assert_allclose(eager["kl_dim"][3], 0.5 * (np.expm1(lv) - lv), rtol=1e-3)


def test_bernoulli_kl_infinite_where_undefined():
  # q puts zero mass where p has mass: KL is +inf (not NaN); 0‖0 and 1‖1 are 0.
  got = D.bernoulli_kl(f32([0.5, 0.0, 1.0]), f32([0.0, 0.0, 1.0]))
  assert np.isposinf(got[0])
  np.testing.assert_array_equal(got[1:], 0.0)


def test_gradients_finite_at_boundaries():
  g = jax.grad(lambda q: jnp.sum(D.bernoulli_kl(f32([0.0, 1.0]), q)))(f32([0.3, 0.6]))
  # Closed form ∂/∂q KL(Bern(p)‖Bern(q)) = (q − p)/(q(1 − q)).
  np.testing.assert_allclose(g, [0.3 / 0.21, -0.4 / 0.24], rtol=1e-5)
  g = jax.grad(lambda lv: jnp.sum(D.gaussian_kl(jnp.zeros(2), lv)))(f32([30.0, -30.0]))
  assert np.all(np.isfinite(g))


if __name__ == "__main__":
  pytest.main([__file__, "-q"])
