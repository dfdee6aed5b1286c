"""The semi-supervised pieces against disentanglement_lib's own functions, run once on the inputs
below, and against closed forms where the project deliberately differs.

Reference: google-research/disentanglement_lib, commit 86a644d4ed35c771560dc3360756363d35477357,
disentanglement_lib/methods/semi_supervised/semi_supervised_vae.py (supervised_regularizer_xent,
_l2 with learn_scale=False, _cov, normalize_labels, the three annealers) and semi_supervised_utils.py
(bin_labeller, noisy_labeller, permuted_labeller, partial_labeller, train_test_split). The
methods through the real step and loop are in tests/methods/test_registry.py. Run with
tensorflow-cpu 2.21 (tf.compat.v1 graph mode), numpy 2.4.6, gin and the unused imports stubbed,
in a scratch venv outside the project: `/tmp/ref_s2/bin/python /tmp/ref_s2/run/ref.py`, the
module files exported with `git --git-dir=MIRROR archive HEAD disentanglement_lib/methods/
semi_supervised | tar -x -C /tmp/ref_s2/src`. The labellers' random_state was a stub replaying
this test's draws.
The reference's scalars are float32 (printed as the shortest float32 repr), so they are compared
at float32 tolerance.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import test as test_config
from vae import methods
from vae import settings as settings_module
from vae.data import dsprites
from vae.errors import UserInputError
from vae.methods import beta_vae
from vae.methods import semi_supervised as s2
from vae.training import train

SIZES = (3, 6, 5)
MEAN = np.random.RandomState(0).normal(size=(6, 4)).astype(np.float32)
LABELS = np.stack([np.random.RandomState(1).randint(0, n, size=6) for n in SIZES], 1)
F32 = dict(rtol=2e-6, atol=0)  # A few float32 ulps: both sides compute in float32.

# The reference's outputs on MEAN, LABELS (a batch sum for xent; see the module's note).
REF_XENT = 15.053329
REF_L2_SIGMOID = 21.752666  # Its [B, B, F] broadcast; ours pairs each example with its labels.
REF_COV = 6.0913267


def test_inputs_are_the_ones_the_reference_saw():
  assert LABELS.tolist() == [[1, 5, 3], [0, 3, 4], [0, 4, 0], [1, 0, 1], [1, 1, 3], [0, 3, 0]]
  assert MEAN[0].tolist() == pytest.approx([1.764052391052246, 0.40015721321105957,
                                            0.978738009929657, 2.2408931255340576], abs=0)


def _batch(kind, mean=MEAN, labels=LABELS, sizes=SIZES):
  labels = jnp.asarray(labels)
  return float(s2.supervised_term(kind, jnp.asarray(mean), labels,
                                  s2.normalized_labels(labels, sizes)))


def test_xent_is_the_reference_sum_over_the_batch_divided_by_its_size():
  np.testing.assert_allclose(MEAN.shape[0] * _batch('xent'), REF_XENT, **F32)


def test_cov_is_the_reference_value():
  np.testing.assert_allclose(_batch('cov'), REF_COV, **F32)


def test_l2_sigmoid_differs_from_the_reference_broadcast_as_documented():
  fitted = 1 / (1 + np.exp(-MEAN[:, :3].astype(np.float64)))
  targets = LABELS / np.asarray(SIZES, np.float64)
  # The reference's expression: every example's sigmoid against every example's labels.
  broadcast = np.square(fitted[:, None, :] - targets[None]).sum()
  np.testing.assert_allclose(broadcast, REF_L2_SIGMOID, rtol=1e-6)
  own = np.square(fitted - targets).sum(axis=1)
  np.testing.assert_allclose(_batch('l2_sigmoid'), own.mean(), rtol=1e-6)
  assert abs(MEAN.shape[0] * own.mean() - REF_L2_SIGMOID) > 5  # 3.08 (ours × B) vs 21.75.


def test_per_example_terms_by_hand_in_float64():
  mean, labels = MEAN.astype(np.float64), LABELS.astype(np.float64)
  logits, targets = mean[:, :3], labels / np.asarray(SIZES)
  xent = (np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-abs(logits)))).sum(1)
  got = s2.xent_per_example(jnp.asarray(MEAN), s2.normalized_labels(LABELS, SIZES))
  np.testing.assert_allclose(got, xent, rtol=1e-6)
  centred = mean - mean.mean(0)
  cov = centred.T @ (labels - labels.mean(0)) / 6
  cov[np.arange(3), np.arange(3)] = 0
  np.testing.assert_allclose(s2.cov_penalty(jnp.asarray(MEAN), jnp.asarray(LABELS)),
                             np.square(cov).sum(), rtol=1e-6)


def test_the_reference_tests_closed_form_for_xent_at_zero():
  # Its own test: zero logits against zero labels cost log 2 per entry (64 × 5 entries summed).
  loss = _batch('xent', np.zeros((64, 10)), np.zeros((64, 5)), [1] * 5)
  np.testing.assert_allclose(64 * loss, 64 * 5 * np.log(2), rtol=1e-6)


def test_normalized_labels_divide_by_the_size_as_the_reference():
  want = [[0.3333333432674408, 0.8333333134651184, 0.6000000238418579],
          [0.0, 0.5, 0.800000011920929], [0.0, 0.6666666865348816, 0.0],
          [0.3333333432674408, 0.0, 0.20000000298023224],
          [0.3333333432674408, 0.1666666716337204, 0.6000000238418579], [0.0, 0.5, 0.0]]
  # XLA:CPU's float32 division may round 5/6 one ulp away from numpy's: float32 tolerance.
  np.testing.assert_allclose(s2.normalized_labels(LABELS, SIZES), np.float32(want), **F32)


@pytest.mark.parametrize('schedule,want', [('fixed', [4, 4, 4, 4, 4]),
                                           ('anneal', [0, 2, 4, 4, 4]),
                                           ('fine_tune', [0, 0, 0, 4, 4])])
def test_gamma_schedules_match_the_reference_annealers(schedule, want):
  # The reference's annealers at γ = 4, threshold 10, steps 0, 5, 10, 11, 20; ours jitted.
  at = jax.jit(lambda step: s2.gamma_sup_at(4.0, step, schedule, 10))
  assert [float(at(step)) for step in (0, 5, 10, 11, 20)] == want


def test_losses_jit_and_differentiate():
  labels = jnp.asarray(LABELS)
  targets = s2.normalized_labels(labels, SIZES)
  for kind in s2.SUPERVISED_LOSSES:
    def loss(mean, kind=kind):
      return s2.supervised_term(kind, mean, labels, targets)
    value, grad = jax.jit(jax.value_and_grad(loss))(jnp.asarray(MEAN))
    np.testing.assert_allclose(value, loss(jnp.asarray(MEAN)), rtol=1e-6)
    assert np.isfinite(value) and grad.shape == MEAN.shape and np.all(np.isfinite(grad))
    if kind != 'cov':  # Only the first F latents are supervised.
      assert np.all(np.asarray(grad)[:, 3] == 0)


def test_with_supervision_adds_the_weighted_term():
  loss, aux = s2.with_supervision(jnp.float32(3.0), {'loss': 3.0, 'recon': 2.0},
                                  jnp.float32(0.5), 4.0)
  assert float(loss) == 5.0 and float(aux['loss']) == 5.0
  assert aux['recon'] == 2.0 and float(aux['supervised']) == 0.5 and aux['gamma_sup'] == 4.0
  # A critic's loss rides in the differentiated loss, not in the logged one (FactorVAE).
  loss, aux = s2.with_supervision(jnp.float32(3.5), {'loss': 3.0}, jnp.float32(0.5), 4.0)
  assert float(loss) == 5.5 and float(aux['loss']) == 5.0


# ------------------------------------------------------------------- labels

def _grid(sizes):
  return np.stack([np.arange(max(sizes)) % n for n in sizes], 1)


# The reference's bin_labeller on `_grid(sizes)`: each factor's value -> bin, and the new sizes.
REF_BINS_AT_5 = {
    (3, 6, 40, 32, 32): ([[0, 1, 2], [0, 0, 1, 2, 3, 4], [v // 8 for v in range(40)],
                          [0] * 7 + [1] * 6 + [2] * 7 + [3] * 6 + [4] * 6,
                          [0] * 7 + [1] * 6 + [2] * 7 + [3] * 6 + [4] * 6], [3, 5, 5, 5, 5]),
    (10, 10, 10, 8, 4, 15): ([[v // 2 for v in range(10)]] * 3 + [[0, 0, 1, 1, 2, 3, 3, 4],
                              [0, 1, 2, 3], [v // 3 for v in range(15)]], [5, 5, 5, 5, 4, 5]),
    (5, 10, 9, 18, 6): ([[0, 1, 2, 3, 4], [v // 2 for v in range(10)],
                         [0, 0, 1, 1, 2, 2, 3, 3, 4],
                         [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4],
                         [0, 0, 1, 2, 3, 4]], [5, 5, 5, 5, 5]),
}


@pytest.mark.parametrize('sizes', list(REF_BINS_AT_5))
def test_binning_at_5_bins_is_the_reference_on_dsprites_shapes3d_smallnorb(sizes):
  binned, new_sizes = s2.bin_labels(_grid(sizes), sizes, 5)
  want, want_sizes = REF_BINS_AT_5[sizes]
  assert [binned[:n, j].tolist() for j, n in enumerate(sizes)] == want
  assert new_sizes.tolist() == want_sizes


# Where the reference's float32 `v // (n / bins)` puts an exact bin edge one bin low.
REF_BINS_OFF = {
    ((32, 8, 40), 6): [[0] * 6 + [1] * 5 + [2] * 6 + [3] * 5 + [4] * 5 + [5] * 5,
                       [0, 0, 1, 2, 2, 3, 4, 5], [0] * 7 + [1] * 7 + [2] * 6 + [3] * 7 +
                       [4] * 7 + [5] * 6],
    ((32, 40), 15): [[0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 7, 8, 8, 9, 9, 10, 10,
                      11, 11, 12, 12, 13, 13, 14, 14],
                     [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 7, 7, 7, 8, 8, 8,
                      9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 13, 13, 13, 14, 14]],
}


@pytest.mark.parametrize('sizes,bins,moved', [((32, 8, 40), 6, 2), ((32, 40), 15, 4)])
def test_binning_differs_from_the_reference_only_on_exact_bin_edges(sizes, bins, moved):
  # `moved`: how many values the reference's lists above put one bin low (32 values in 6 bins:
  # 16; 8 in 6: 4; 40 in 15: 8, 16, 24, 32).
  binned, _ = s2.bin_labels(_grid(sizes), sizes, bins)
  total = 0
  for j, n in enumerate(sizes):
    ours, ref = binned[:n, j], np.asarray(REF_BINS_OFF[(sizes, bins)][j])
    values = np.arange(n)
    np.testing.assert_array_equal(ours, values * bins // n)  # The closed form.
    off = ours != ref
    # Only values v with v·bins/n an integer (a bin's first value) move, and by one bin.
    assert np.all((values[off] * bins) % n == 0) and np.all(ours[off] - ref[off] == 1)
    total += off.sum()
  assert total == moved


NOISE_LABELS = np.stack([np.random.RandomState(2).randint(0, n, size=8) for n in SIZES], 1)
COINS, PICKS = np.random.RandomState(3).rand(2, 8, 3)


def test_noise_with_the_same_draws_is_the_reference_labeller():
  assert NOISE_LABELS.tolist() == [[0, 0, 0], [1, 5, 0], [0, 0, 3], [2, 3, 2], [2, 2, 3],
                                   [0, 3, 0], [2, 0, 2], [1, 2, 1]]
  got = s2.replace_labels(NOISE_LABELS, SIZES, 0.3, COINS, PICKS)
  assert got.tolist() == [[0, 0, 1], [1, 5, 0], [2, 4, 4], [2, 2, 2], [2, 3, 3], [0, 2, 0],
                          [0, 0, 2], [1, 2, 1]]


def test_noise_rate_from_a_key():
  n, p = 20000, 0.1
  labels = np.stack([np.arange(n) % s for s in SIZES], 1)
  noisy, sizes = s2.noisy_labels(jax.random.key(7), labels, SIZES, p)
  assert sizes.tolist() == list(SIZES) and np.all((noisy >= 0) & (noisy < sizes))
  for j, size in enumerate(SIZES):
    # An entry changes when redrawn (p) to another value (1 − 1/size): a binomial rate; 5
    # standard deviations is a false alarm once in ~3.5 million.
    rate = p * (1 - 1 / size)
    assert abs((noisy[:, j] != labels[:, j]).mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
  same_key = s2.noisy_labels(jax.random.key(7), labels, SIZES, p)[0]
  np.testing.assert_array_equal(noisy, same_key)


def test_permuted_and_partial_labels_are_the_reference_labellers():
  perms = [[2, 0, 1], [5, 3, 0, 1, 4, 2], [1, 4, 3, 0, 2]]
  assert s2.permute_labels(NOISE_LABELS, SIZES, perms).tolist() == [
      [2, 5, 1], [0, 2, 1], [2, 5, 0], [1, 1, 3], [1, 0, 0], [2, 1, 1], [1, 5, 3], [0, 0, 4]]
  labels, sizes, kept = s2.observe_factors(NOISE_LABELS, SIZES, [2, 0])
  assert labels.tolist() == [[0, 0], [0, 1], [3, 0], [2, 2], [3, 2], [0, 0], [2, 2], [1, 1]]
  assert sizes.tolist() == [5, 3] and kept.tolist() == [2, 0]


def test_keyed_permutations_and_subsets_are_valid_and_reproducible():
  labels = _grid(SIZES)
  permuted, _ = s2.permuted_labels(jax.random.key(3), labels, SIZES)
  for j, n in enumerate(SIZES):  # A bijection of each factor's values.
    assert sorted(set(zip(labels[:n, j], permuted[:n, j]))) == sorted(
        set(zip(labels[:, j], permuted[:, j]))) and len(set(permuted[:n, j])) == n
  labels_2, sizes_2, kept = s2.partial_labels(jax.random.key(4), labels, SIZES, 2)
  assert len(set(kept.tolist())) == 2 and labels_2.shape == (6, 2)
  assert sizes_2.tolist() == [SIZES[k] for k in kept]
  again = s2.partial_labels(jax.random.key(4), labels, SIZES, 2)[2]
  np.testing.assert_array_equal(kept, again)


def test_training_split_matches_the_reference_but_for_binary_rounding():
  # Reference train_test_split: (100, 0.9) -> 90, (1000, 0.9) -> 900, (10, 0.3) -> 3,
  # (100, 0.07) -> 8 (ceil of 7.000000000000001); ours 7.
  assert [s2.num_training_labels(n, p) for n, p in ((100, 0.9), (1000, 0.9), (10, 0.3))] == [
      90, 900, 3]
  assert s2.num_training_labels(100, 0.07) == 7


@pytest.mark.parametrize('call,match', [
    (lambda: s2.bin_labels([[0, 3]], SIZES, 5), 'one column per factor'),
    (lambda: s2.bin_labels([[0, 6, 1]], SIZES, 5), 'integers in 0'),
    (lambda: s2.bin_labels([[0, 1, 1]], SIZES, 0), 'label_bins'),
    (lambda: s2.replace_labels([[0, 1, 1]], SIZES, 1.5, [[0] * 3], [[0] * 3]), 'label_noise'),
    (lambda: s2.partial_labels(jax.random.key(0), [[0, 1, 1]], SIZES, 4), 'observed_factors'),
    (lambda: s2.num_training_labels(100, 0), 'labelled_train_fraction'),
    (lambda: _batch('l2', np.zeros((2, 4)), np.zeros((2, 3))), 'supervised_loss'),
    (lambda: _batch('xent', np.zeros((2, 2)), np.zeros((2, 3))), 'latents'),
    (lambda: s2.gamma_sup_at(1.0, 0, 'cosine'), 'gamma_sup_schedule'),
])
def test_bad_inputs_are_one_line_errors(call, match):
  with pytest.raises(UserInputError, match=match) as error:
    call()
  assert '\n' not in str(error.value)


def test_cov_needs_no_latent_per_factor():
  assert np.isfinite(_batch('cov', MEAN[:, :2]))


# ------------------------------------------------------------------- the methods' pieces

def _method(name='s2_beta_vae', **settings):
  config = test_config.get_config()
  config.model, config.hidden, config.method = 'mlp', 32, name
  config.latents = len(dsprites.FACTOR_SIZES)
  config.update(settings)
  return config, methods.from_config(config, dsprites.NUM_COMBINATIONS)


def test_the_labelled_set_is_drawn_once_from_its_own_key_and_labelled():
  _, method = _method(num_labelled=100)
  factors, labels, sizes = s2.labelled_set(dsprites.dataset(), method)
  assert factors.shape == (90, 5) and sizes.tolist() == list(dsprites.FACTOR_SIZES)
  np.testing.assert_array_equal(labels, factors)  # The perfect labeller.
  # The same set for every model of a sweep (a fixed key), another with another labelled_seed.
  np.testing.assert_array_equal(s2.labelled_set(dsprites.dataset(), method)[0], factors)
  other = s2.labelled_set(dsprites.dataset(), dataclasses.replace(method, labelled_seed=1))[0]
  assert not np.array_equal(other, factors)
  binned = s2.labelled_set(dsprites.dataset(), dataclasses.replace(method, labeller='bin'))
  np.testing.assert_array_equal(binned[1], s2.bin_labels(factors, dsprites.FACTOR_SIZES, 5)[0])
  assert binned[2].tolist() == [3, 5, 5, 5, 5]
  partial = s2.labelled_set(dsprites.dataset(), dataclasses.replace(
      method, labeller='partial', observed_factors=2))
  assert partial[1].shape == (90, 2) and len(partial[2]) == 2


def test_a_batch_renders_labelled_rows_beside_unlabelled_images():
  _, method = _method(num_labelled=20, labeller='bin')
  dataset = dsprites.dataset()
  factors, labels, sizes = s2.labelled_set(dataset, method)
  batch = jax.jit(method.sampler(dataset), static_argnums=1)(jax.random.key(3), 16)
  assert batch['x'].shape == batch['x_labelled'].shape == (16, *dsprites.IMAGE_SHAPE)
  # Each labelled image is the rendering of a labelled row, with that row's labels and targets.
  rendered = np.asarray(dataset.observations_from_factors(jnp.asarray(factors)))
  for image, row_labels, targets in zip(batch['x_labelled'], batch['labels'], batch['targets']):
    rows = np.flatnonzero((rendered == np.asarray(image)).all(axis=(1, 2, 3)))
    assert rows.size and any(np.array_equal(labels[r], row_labels) for r in rows)
    np.testing.assert_allclose(targets, np.asarray(row_labels) / sizes, rtol=1e-6)


def _loss_parts(name, **settings):
  config, method = _method(name, **settings)
  model = train.create_model(config, dsprites.IMAGE_SHAPE)
  params = model.init(jax.random.key(0), jnp.zeros((1, *dsprites.IMAGE_SHAPE)),
                      jax.random.key(1))['params']
  batch = method.sampler(dsprites.dataset())(jax.random.key(2), 8)
  return method, model, params, batch


def test_the_loss_is_the_unsupervised_method_on_unlabelled_images_plus_gamma_r_s():
  method, model, params, batch = _loss_parts('s2_beta_vae', gamma_sup=3.0)
  key = jax.random.key(4)
  loss, aux = method(model, params, None, batch, key, 8.0, 10)
  unsupervised, _ = beta_vae.BetaVAE()(model, params, None, batch['x'], key, 8.0, 10)
  supervised = method.supervised(model, params, batch)
  np.testing.assert_allclose(loss, unsupervised + 3.0 * supervised, rtol=1e-6)
  assert float(aux['supervised']) == float(supervised) and float(aux['gamma_sup']) == 3.0
  # The eval row is the β-VAE's on single observations.
  row = method.evaluate(model, params, None, batch['x'], key, 8.0, 10)
  assert set(row) == set(beta_vae.BetaVAE()(model, params, None, batch['x'], key, 8.0, 10)[1])


def test_the_supervised_vae_trains_its_encoder_on_the_labels_alone():
  method, model, params, batch = _loss_parts('supervised_vae')
  key = jax.random.key(4)
  full = jax.grad(lambda p: method(model, p, None, batch, key, 0.0, 0)[0])(params)
  labels_only = jax.grad(lambda p: method.supervised(model, p, batch))(params)
  for got, want in zip(jax.tree.leaves(full['encoder']), jax.tree.leaves(labels_only['encoder'])):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  assert any(np.abs(g).max() > 0 for g in jax.tree.leaves(full['decoder']))


@pytest.mark.parametrize('settings,match', [
    ({'latents': 4}, 'latents=4 must be at least 5'),
    ({'labeller': 'partial', 'observed_factors': 6}, 'observed_factors=6 must be an integer in'),
    ({'labeller': 'typo'}, "unknown labeller 'typo'"),
    ({'supervised_loss': 'embed'}, "unknown supervised_loss 'embed'"),
    ({'labelled_train_fraction': 0.0}, 'labelled_train_fraction'),
])
def test_bad_settings_are_one_line_errors(settings, match):
  config, _ = _method()
  config.update(settings)
  with pytest.raises(UserInputError, match=match) as error:
    settings_module.check_config(config)
  assert '\n' not in str(error.value)


def test_a_partial_labeller_needs_a_latent_per_observed_factor_only():
  config, _ = _method(labeller='partial', observed_factors=2)
  config.latents = 2
  settings_module.check_config(config)
