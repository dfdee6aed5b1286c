"""QLAE (vae/methods/qlae.py): the quantized autoencoder's loss, its optimizer and its model option.

The layer and its terms are checked against the authors' code in tests/test_quantization.py; here
the method's wiring is checked against those pieces, written out.
"""

import math
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from tests import figure_legibility
from tests import run_files
from vae import methods
from vae import quantization
from vae.evaluation import infomec
from vae.evaluation import metric
from vae.evaluation import suite
from vae.methods import autoencoders
from vae.studies import sweep
from vae.training import train

SHAPE = (8, 8, 1)


def _config(**overrides):
  return ml_collections.ConfigDict({**dict(
      model='mlp', latents=3, hidden=16, likelihood='bernoulli', method='qlae',
      learning_rate=1e-3, quantization_weight=0.01, values_per_latent=5, weight_decay=0.1,
      gradient_clip=1.0), **overrides})


def _state(config):
  model = train.create_model(config, SHAPE)
  return train.create_train_state(jax.random.key(0), config, model, SHAPE)


def _images():
  return jnp.asarray((np.random.default_rng(0).random((4, *SHAPE)) < 0.5).astype(np.float32))


def test_the_model_option_adds_one_grid_and_the_plain_autoencoder_keeps_its_parameters():
  config = _config()
  quantized = _state(config).params
  np.testing.assert_array_equal(quantized['quantizer']['values'],
                                np.broadcast_to(np.linspace(-0.5, 0.5, 5), (3, 5)))
  config.method = 'ae'
  plain = _state(config).params
  assert set(plain) == {'encoder', 'decoder'} and set(quantized) == {*plain, 'quantizer'}


def test_the_code_is_on_the_grid_and_the_loss_is_recon_plus_lambda_p_times_the_terms():
  config = _config()
  state = _state(config)
  x = _images()
  model, params = state.model, state.params
  codes = model.apply({'params': params}, x, method='code')
  grid = np.asarray(params['quantizer']['values'])
  for d in range(3):
    assert set(np.asarray(codes[:, d]).tolist()) <= set(grid[d].tolist())
  loss, aux = state.method(model, params, None, x, None, jnp.float32(0.01), 0)
  # Written out: encoder mean head, nearest grid value, decoder, summed Bernoulli nats.
  z = model.apply({'params': params}, x, method='encode')
  quantized = quantization.quantize(z, params['quantizer']['values'])
  recon = autoencoders.reconstruction(
      x, model.apply({'params': params}, quantized['quantized'], method='decode'),
      model.likelihood).mean()
  terms = quantized['quantization_loss'].mean() + quantized['commitment_loss'].mean()
  np.testing.assert_allclose(float(loss), float(recon + 0.01 * math.prod(SHAPE) * terms),
                             rtol=1e-6)
  assert {'recon', 'quantization_loss', 'commitment_loss'} <= set(aux)


def test_the_suite_scores_the_quantized_code_with_infomec_s_discrete_estimator():
  config = _config()
  state = _state(config)
  x = _images()
  encoder = suite.encoder(state, ('mean',))
  codes = encoder.represent(encoder.statistics(state.params, x), jax.random.key(0))['mean']
  np.testing.assert_array_equal(codes, state.model.apply({'params': state.params}, x,
                                                         method='code'))
  # The suite marks such a code discrete; InfoMEC then uses the plug-in estimator on it.
  factors = np.array([[0, 1], [1, 0], [0, 0], [1, 1]] * 5)
  quantized = np.tile(np.asarray(codes), (5, 1))
  inputs = metric.Inputs(None, None, {'mean': quantized, 'sampled': quantized + 0.0},
                         factors, None, None, None, (), (), 1, discrete_codes=True)
  scores = infomec.METRIC.score(inputs)
  assert scores['mean'] == infomec.infomec(quantized, factors, discrete_codes=True)
  np.testing.assert_equal(scores['sampled'], infomec.infomec(quantized, factors))


def test_the_optimizer_decays_and_clips_the_weights_alone_with_the_clip_per_value():
  config = _config()
  state = _state(config)
  method = state.method
  # The authors' optimizer, written out: clip (at 1 per value, so P here) and AdamW on the
  # encoder's and decoder's weights, Adam on the rest.
  mask = quantization.decay_mask(state.params)
  expected = optax.chain(optax.masked(optax.clip(1.0 * math.prod(SHAPE)), mask),
                         optax.adamw(1e-3, weight_decay=0.1, mask=mask))
  grads = jax.tree.map(lambda p: jnp.full_like(p, 100.0), state.params)
  ours, _ = state.tx.update(grads, state.tx.init(state.params), state.params)
  theirs, _ = expected.update(grads, expected.init(state.params), state.params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ours, theirs)
  assert not mask['quantizer']['values'] and mask['encoder']['Dense_0']['kernel']
  assert not mask["encoder"]["Dense_0"]["bias"]
  assert train.optimizer(method, 1e-3, 64) is state.tx  # One object: one compile.


def test_the_default_method_optimizer_is_adam():
  config = _config(method='beta_vae', beta=4.0)
  method = methods.from_config(config, 1000)
  tx = method.optimizer(1e-3, 64)
  params = {'w': jnp.ones(3)}
  grads = {'w': jnp.array([1.0, -2.0, 0.5])}
  ours, _ = tx.update(grads, tx.init(params), params)
  theirs, _ = optax.adam(1e-3).update(grads, optax.adam(1e-3).init(params), params)
  np.testing.assert_array_equal(ours['w'], theirs['w'])


def test_a_qlae_sweep_finishes_with_its_summary_and_legible_figures(tmp_path, monkeypatch):
  """The tiny sweep with QLAE: a deterministic code has no KL, so the report skips the KL heat
  map and plots recon alone, and every other file is written."""
  config = run_files.sweep_config()
  config.method, config.strengths = 'qlae', '0.01,0.1'
  workdir = str(tmp_path / 'sweep')
  with figure_legibility.recording(monkeypatch) as found:
    rows, excluded = sweep.run(config, workdir)
  assert not excluded and sorted(r['strength'] for r in rows) == [0.01, 0.1]
  figures = {os.path.basename(p) for p in found}
  assert 'kl_per_latent.png' not in figures
  assert {'training_curves.png', 'strength_tradeoff.png', 'factor_latent.png'} <= figures
  assert {p: problems for p, problems in found.items() if problems} == {}
  with open(os.path.join(workdir, 'summary.md')) as f:
    summary = f.read()
  assert '| quantization_loss |' in summary and '| infom |' in summary
