"""Log-probabilities, KL divergences and the reparameterization trick.

Every quantity is in nats (natural logarithms). Gaussians are diagonal and
parameterized by ``(mean, logvar)``, where ``logvar`` is the log of the
*variance*: a ``Σ`` is a variance, as in the reparameterization
``z = u + Σ^½ ε`` (docs/exercise_sheet.md, question 6; question 7 reads it
both ways). Bernoulli distributions are given either by probabilities or by
logits.

Reduction conventions, stated per function:

* ``*_per_dim``, ``bernoulli_kl``, ``bernoulli_kl_from_logits`` and the
  ``*_log_prob`` functions are elementwise (same shape as the broadcast
  inputs); the caller sums over pixels or latents.
* ``gaussian_kl`` and ``diag_gaussian_kl`` sum over the last axis (the latent
  dimensions), giving one KL per example.
* ``categorical_kl`` sums over ``axis`` (the categories).

All functions are pure ``jnp`` code, safe under ``jax.jit``/``vmap``/``grad``,
and written to stay finite in float32 for extreme but valid inputs
(``logvar = ±30``, probabilities exactly 0 or 1, logits ``±100``).
"""

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import rel_entr

_LOG_2PI = math.log(2.0 * math.pi)


def sample_from_noise(mean, logvar, eps):
  """Deterministic half of the reparameterization: ``mean + exp(logvar/2)·eps``.

  Separated from :func:`reparameterize` so tests (and the worked toy VAE of
  docs/exercise_sheet.md, question 7) can feed a given ε; gradients flow to
  ``mean`` and ``logvar``.
  """
  return mean + jnp.exp(0.5 * logvar) * eps


def reparameterize(key, mean, logvar):
  """Draws ``z ~ N(mean, exp(logvar))`` as a differentiable function of ε.

  Randomness enters only through ``eps = normal(key)``; the key is explicit so
  the caller controls (and never reuses) it.
  """
  eps = jax.random.normal(key, jnp.shape(mean), jnp.result_type(mean))
  return sample_from_noise(mean, logvar, eps)


def gaussian_kl_per_dim(mean, logvar):
  """Elementwise ``KL(N(mean, exp(logvar)) ‖ N(0, 1))`` in nats.

  Equal to ``0.5 (mean² + exp(logvar) − 1 − logvar)``.
  """
  # expm1 avoids the cancellation in exp(logvar) - 1 when logvar ≈ 0, which is
  # where a collapsed (uninformative) latent sits.
  return 0.5 * (jnp.square(mean) + jnp.expm1(logvar) - logvar)


def gaussian_kl(mean, logvar):
  """``KL(N(mean, diag exp(logvar)) ‖ N(0, I))`` summed over the last axis."""
  return jnp.sum(gaussian_kl_per_dim(mean, logvar), axis=-1)


def diag_gaussian_kl_per_dim(mean_q, logvar_q, mean_p, logvar_p):
  """``KL(q_j ‖ p_j)`` of each dimension j of two diagonal Gaussians [..., D].

  ``0.5 (log σp²/σq² + (σq² + (μq − μp)²)/σp² − 1)``.
  """
  # Work with the log-variance ratio so huge/tiny variances never get
  # multiplied together (exp(30) * exp(30) would overflow float32).
  log_ratio = logvar_q - logvar_p
  return 0.5 * (jnp.expm1(log_ratio) - log_ratio
                + jnp.square(mean_q - mean_p) * jnp.exp(-logvar_p))


def diag_gaussian_kl(mean_q, logvar_q, mean_p, logvar_p):
  """``KL(q ‖ p)`` between diagonal Gaussians, summed over the last axis."""
  return jnp.sum(diag_gaussian_kl_per_dim(mean_q, logvar_q, mean_p, logvar_p), axis=-1)


def bernoulli_kl(p, q):
  """Elementwise ``KL(Bern(p) ‖ Bern(q))`` from probabilities, in nats.

  ``p log(p/q) + (1−p) log((1−p)/(1−q))`` with ``0·log 0 = 0``; it is ``inf``
  where ``q`` puts zero mass on an outcome that ``p`` can produce.
  """
  # rel_entr(x, y) = x log(x/y) with the 0·log0 = 0 convention built in.
  return rel_entr(p, q) + rel_entr(1.0 - p, 1.0 - q)


def bernoulli_kl_from_logits(logits_p, logits_q):
  """Elementwise ``KL(Bern(σ(logits_p)) ‖ Bern(σ(logits_q)))`` in nats.

  Uses ``log_sigmoid`` so that logits of any magnitude stay finite.
  """
  p = jax.nn.sigmoid(logits_p)
  # sigmoid(-l) rather than 1 - sigmoid(l): keeps the tiny tail mass exact.
  one_minus_p = jax.nn.sigmoid(-logits_p)
  log_p, log_q = jax.nn.log_sigmoid(logits_p), jax.nn.log_sigmoid(logits_q)
  log_1p, log_1q = jax.nn.log_sigmoid(-logits_p), jax.nn.log_sigmoid(-logits_q)
  return p * (log_p - log_q) + one_minus_p * (log_1p - log_1q)


def categorical_kl(p, q, axis=-1):
  """``KL(P ‖ Q) = Σ p log(p/q)`` over ``axis``, from probabilities, in nats.

  Terms with ``p = 0`` contribute 0. ``p`` and ``q`` are used as given (not
  renormalized), so an unnormalized ``q`` yields the sum as written.
  """
  return jnp.sum(rel_entr(p, q), axis=axis)


def bernoulli_log_prob(logits, x):
  """Elementwise ``log p(x | logits)`` for ``x`` in [0, 1], in nats.

  ``x log σ(l) + (1−x) log σ(−l)``, written as the equal ``x·l − softplus(l)`` (since
  log σ(l) = l − softplus(l)): one transcendental pass instead of two, which the training step
  feels. For non-binary ``x`` this is the negative binary cross-entropy (continuous-Bernoulli
  normalizer not included).
  """
  return x * logits - jax.nn.softplus(logits)


def gaussian_log_prob(x, mean, logvar):
  """Elementwise ``log N(x; mean, exp(logvar))`` in nats."""
  return -0.5 * (_LOG_2PI + logvar + jnp.square(x - mean) * jnp.exp(-logvar))
