"""HFS (Hausdorff factorized support) against the authors' PyTorch loss and closed forms.

Reference: facebookresearch/disentangling-correlated-factors at commit
3b0d233ac551ef41d054b2113a59f0166df4967b, `dent/losses/factorizedsupportvae.py` and
`dent/losses/factorizedsupporttcvae.py` (`Loss.__call__`, matching 'hausdorff_hard',
factorized_support_estimation 'full', latent_select 'pair', delta 0), run in a scratch venv
(torch 2.13.0+cpu, float64, on the float32 values below) with
`/tmp/ref_hfs/bin/python /tmp/ref_hfs/run_ref.py` (twice: the second run only added the tie
cases' gradients; the rest agreed to the last digit): the HFS term alone is their loss with
use_rec=0, beta=0, gamma=1 (its `factorizedsupport_loss`, `max_distance`, and the codes'
gradient by autograd); their pair subset was forced by setting `avail_pairs_of_latents`.
"""

import itertools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from vae import methods
from vae.errors import UserInputError
from vae.likelihoods import Likelihood
from vae.methods import beta_tcvae
from vae.methods import beta_vae
from vae.methods import hfs

CODES = np.array([[0.1257, -0.1321, 0.6404, 0.1049],
                  [-0.5357, 0.3616, 1.304, 0.9471],
                  [-0.7037, -1.2654, -0.6233, 0.0413],
                  [-2.3250, -0.2188, -1.2459, -0.7323],
                  [-0.5443, -0.3163, 0.4116, 1.0425],
                  [-0.1285, 1.3664, -0.6652, 0.3510]], np.float32)
# The authors' values on CODES, pair by pair in itertools.combinations order, and all six.
AUTHORS_PER_PAIR = [2.51285904, 3.2232419300000004, 3.1499150399999998, 1.69716857, 1.17353889,
                    1.1412688]
AUTHORS_ALL_PAIRS = 12.897992270000001
AUTHORS_MAX_DISTANCE = 12.5079205
AUTHORS_GRADIENT = [[0.0, 0.0, -0.8696000000000003, 1.6743999999999999],
                    [0.0, 0.0, 3.112, 0.0],
                    [0.0, -1.8982, 0.0, 0.0],
                    [-3.5614000000000003, -3.1704, 0.0, -7.3906],
                    [3.5614000000000003, 1.8982, -2.2424, 3.5496],
                    [0.0, 3.1704, 0.0, 2.1666]]
# Their own draw of 3 of the 6 pairs (np.random.seed(0) before the call) and its value.
AUTHORS_DRAWN_PAIRS = [[2, 3], [0, 3], [0, 2]]
AUTHORS_DRAWN_VALUE = 7.51442577
F32 = dict(rtol=1e-6, atol=1e-6)


def _pairs(num_latents):
  return jnp.asarray(hfs.latent_pairs(num_latents))


def test_each_pair_and_their_sum_match_the_authors():
  pairs = _pairs(4)
  np.testing.assert_allclose(hfs.pair_hausdorff(CODES, pairs), AUTHORS_PER_PAIR, **F32)
  terms = jax.jit(hfs.hfs_terms)(CODES, pairs)
  np.testing.assert_allclose(terms['hfs'], AUTHORS_ALL_PAIRS, **F32)
  np.testing.assert_allclose(terms['hfs_max_distance'], AUTHORS_MAX_DISTANCE, **F32)
  # The separable max equals the brute-force max over the [B, B, B, P] distances.
  assert float(terms['hfs_max_distance']) == float(hfs.squared_distances(CODES, pairs).max())
  drawn = hfs.hfs_terms(CODES, jnp.asarray(AUTHORS_DRAWN_PAIRS))['hfs']
  np.testing.assert_allclose(drawn, AUTHORS_DRAWN_VALUE, **F32)


def test_the_value_is_the_max_min_of_the_definition():
  # max over the B² factorized points of the distance to the nearest of the B joint points.
  codes = np.random.default_rng(3).standard_normal((7, 3))
  for (i, j), value in zip(itertools.combinations(range(3), 2),
                           hfs.pair_hausdorff(np.float32(codes), _pairs(3))):
    joint = codes[:, [i, j]]
    factorized = np.array([[u, v] for u in codes[:, i] for v in codes[:, j]])
    nearest = ((factorized[:, None] - joint[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(value, nearest.max(), **F32)


def test_the_jitted_gradient_matches_the_authors_autograd():
  grad = jax.jit(jax.grad(lambda c: hfs.hfs_terms(c, _pairs(4))['hfs']))(jnp.asarray(CODES))
  assert np.all(np.isfinite(grad))
  np.testing.assert_allclose(grad, AUTHORS_GRADIENT, rtol=1e-6, atol=1e-5)


def test_a_factorized_support_has_hfs_zero():
  # Closed form: every combination of the marginal values occurs (a 2 × 3 × 2 grid, shuffled and
  # with a repeated row), so each factorized point is itself a joint point.
  grid = np.array(list(itertools.product([0.0, 1.5], [-1.0, 0.0, 2.0], [0.3, 0.7])), np.float32)
  codes = np.random.default_rng(0).permutation(np.concatenate([grid, grid[:1]]))
  values = hfs.pair_hausdorff(codes, _pairs(3))
  np.testing.assert_array_equal(values, np.zeros(3))
  grad = jax.jit(jax.grad(lambda c: hfs.hfs_terms(c, _pairs(3))['hfs']))(jnp.asarray(codes))
  np.testing.assert_array_equal(grad, np.zeros_like(codes))


@pytest.mark.parametrize('scale', [1.0, 3.0, 0.25])
def test_an_anticorrelated_two_point_support_has_hfs_t_squared(scale):
  # Closed form: joint {(0, t), (t, 0)}; the factorized points (0, 0) and (t, t) are both t²
  # (squared) from the nearest joint point, and the other two are joint points.
  codes = np.float32([[0.0, scale], [scale, 0.0]])
  assert float(hfs.pair_hausdorff(codes, _pairs(2))[0]) == scale ** 2


def test_ties_resolve_to_the_authors_point_and_gradient():
  # Two tied farthest points (and tied nearest ones): torch routes the gradient to the first
  # index of each tie; so does the index-based selection here. Values from the reference run.
  cases = [([[0.0, 3.0], [3.0, 0.0]], 9.0, [[-6.0, 0.0], [6.0, 0.0]]),
           ([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], 2.0, [[0.0, -2.0], [-2.0, 2.0], [2.0, 0.0]])]
  for codes, value, authors_grad in cases:
    loss = lambda c: hfs.hfs_terms(c, _pairs(2))['hfs']  # noqa: E731
    assert float(loss(jnp.float32(codes))) == value
    np.testing.assert_array_equal(jax.jit(jax.grad(loss))(jnp.float32(codes)), authors_grad)


def test_pairs_are_drawn_from_the_key_without_replacement():
  assert hfs.num_pairs_used(10, 25) == 25 and hfs.num_pairs_used(10, 0) == 45
  assert hfs.num_pairs_used(4, 25) == 6
  key = jax.random.key(5)
  drawn = np.asarray(hfs.sampled_pairs(key, 10, 25))
  assert drawn.shape == (25, 2) and len({tuple(p) for p in drawn}) == 25
  assert np.all(drawn[:, 0] < drawn[:, 1]) and drawn.min() >= 0 and drawn.max() < 10
  np.testing.assert_array_equal(drawn, hfs.sampled_pairs(key, 10, 25))
  others = {tuple(map(tuple, np.asarray(hfs.sampled_pairs(jax.random.key(s), 10, 25))))
            for s in range(4)}
  assert len(others) == 4
  # Every pair, in order, when the draw would take all of them.
  np.testing.assert_array_equal(hfs.sampled_pairs(key, 4, 25), hfs.latent_pairs(4))
  np.testing.assert_array_equal(hfs.sampled_pairs(key, 10, 0), hfs.latent_pairs(10))


def _vae_batch():
  # The reference run's batch: numpy draws, seed 7, cast to float32 (their inputs exactly).
  rng = np.random.default_rng(7)
  x = (rng.random((5, 3, 3, 1)) < 0.4).astype(np.float32)
  logits = 2 * rng.standard_normal((5, 3, 3, 1))
  mean = rng.standard_normal((5, 3))
  logvar = 0.5 * rng.standard_normal((5, 3))
  z = mean + np.exp(logvar / 2) * rng.standard_normal((5, 3))
  return jnp.asarray(x), {'mean': jnp.float32(mean), 'logvar': jnp.float32(logvar),
                          'z': jnp.float32(z), 'decoder_out': jnp.float32(logits)}


def test_hfs_beta_vae_matches_the_authors_objective():
  # Theirs: BCE(sigmoid(logits)) summed / B + β·KL + γ·HFS(μ), β = 4, γ = 300, all 3 pairs.
  x, outputs = _vae_batch()
  method = hfs.HFSBetaVAE(beta=4.0)
  loss, aux = jax.jit(lambda g: method.loss(x, outputs, Likelihood(), g, step=0,
                                            key=jax.random.key(0), critic_params=None))(300.0)
  np.testing.assert_allclose(loss, 2410.0182605364366, rtol=1e-6)
  np.testing.assert_allclose(aux['kl'], 1.7918241673886626, rtol=1e-6)
  np.testing.assert_allclose(aux['hfs'], 7.978793192340563, rtol=1e-6)
  np.testing.assert_allclose(aux['hfs_max_distance'], 16.030971934697014, rtol=1e-6)
  # The β-VAE's own terms, unchanged, and the total that is differentiated.
  base_loss, base = beta_vae.beta_vae_loss(x, outputs, 4.0, Likelihood())
  np.testing.assert_allclose(aux['recon'], base['recon'], rtol=1e-6)  # jit's rounding only.
  assert float(aux['beta']) == 4.0
  np.testing.assert_allclose(loss, base_loss + 300.0 * aux['hfs'], rtol=1e-7)
  assert float(aux['loss']) == float(loss) and float(aux['hfs_gamma']) == 300.0
  assert set(hfs.HFSBetaVAE.terms) <= set(aux)


def test_hfs_beta_tcvae_matches_the_authors_objective():
  # Theirs with is_mss False (minibatch-weighted, log(B·N) kept, N = 1000), TC weight 4, γ 300.
  x, outputs = _vae_batch()
  method = hfs.HFSBetaTCVAE(tc_estimator='mws', dataset_size=1000, beta=4.0)
  loss, aux = jax.jit(lambda g: method.loss(x, outputs, Likelihood(), g, step=0,
                                            key=jax.random.key(0), critic_params=None))(300.0)
  np.testing.assert_allclose(loss, 2445.8778926795985, rtol=1e-6)
  base_loss, base = beta_tcvae.beta_tcvae_loss(x, outputs, 4.0, Likelihood(), 1000, 'mws')
  np.testing.assert_allclose(loss, base_loss + 300.0 * aux['hfs'], rtol=1e-7)
  np.testing.assert_allclose(aux['tc'], base['tc'], rtol=1e-6)
  assert set(hfs.HFSBetaTCVAE.terms) <= set(aux)


@pytest.mark.parametrize('method', [hfs.HFSBetaVAE(), hfs.HFSBetaTCVAE('mws', 1000)])
def test_ten_latents_sum_25_pairs_drawn_from_a_key_folded_from_the_eps_key(method):
  rng = np.random.default_rng(1)
  x, outputs = _vae_batch()
  outputs = {**outputs, 'mean': jnp.float32(rng.standard_normal((5, 10))),
             'logvar': jnp.zeros((5, 10)), 'z': jnp.float32(rng.standard_normal((5, 10)))}
  key = jax.random.key(11)
  step = jax.jit(jax.value_and_grad(
      lambda out, g: method.loss(x, out, Likelihood(), g, step=0, key=key,
                                 critic_params=None), has_aux=True))
  (_, aux), grads = step(outputs, 300.0)
  pairs = hfs.sampled_pairs(jax.random.fold_in(key, hfs.PAIR_KEY_DATA), 10, 25)
  assert float(aux['hfs']) == float(hfs.hfs_terms(outputs['mean'], pairs)['hfs'])
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  assert np.any(grads['mean'] != 0)


def test_the_methods_declare_what_the_registry_needs():
  others = [cls for cls in methods.REGISTRY.values()
            if cls not in (hfs.HFSBetaVAE, hfs.HFSBetaTCVAE)]
  registry = methods._registry(*others, hfs.HFSBetaVAE, hfs.HFSBetaTCVAE)
  assert registry['hfs_beta_vae'].setting_rules().keys() == {'hfs_gamma', 'beta', 'hfs_pairs'}
  assert registry['hfs_beta_tcvae'].setting_defaults() == {
      'hfs_gamma': 300.0, 'tc_estimator': 'mws', 'dataset_size': 0, 'beta': 4.0,
      'hfs_pairs': 25}
  config = ml_collections.ConfigDict({'method': 'hfs_beta_tcvae', 'beta': 0.0, 'hfs_pairs': 10,
                                      'tc_estimator': 'mss', 'dataset_size': 0, 'latents': 10})
  method = hfs.HFSBetaTCVAE.from_config(config, num_examples=737280)
  assert method == hfs.HFSBetaTCVAE('mss', 737280, beta=0.0, hfs_pairs=10)
  assert hfs.HFSBetaVAE.from_config(config) == hfs.HFSBetaVAE(beta=0.0, hfs_pairs=10)
  hfs.NUM_PAIRS_RULE.check('--config.hfs_pairs', 0)
  for bad in (-1, 2.5, True):
    with pytest.raises(UserInputError, match='hfs_pairs'):
      hfs.NUM_PAIRS_RULE.check('--config.hfs_pairs', bad)


def test_bad_inputs_are_one_line_user_errors():
  with pytest.raises(UserInputError, match='at least 2; got 1'):
    hfs.latent_pairs(1)
  with pytest.raises(UserInputError, match=r'shape \[batch, latents\]'):
    hfs.pair_hausdorff(np.zeros(4, np.float32), _pairs(2))
  config = ml_collections.ConfigDict({'method': 'hfs_beta_vae', 'latents': 1})
  with pytest.raises(UserInputError, match='--config.latents=1 must be >= 2'):
    hfs.HFSBetaVAE().check_source(None, config)
