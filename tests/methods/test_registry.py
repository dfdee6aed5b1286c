"""The method registry, and every method through the real step and loop: declared terms logged,
traced strengths, the FactorVAE critic in the state and checkpoints, and exact resume."""

import dataclasses

import jax
import numpy as np
import pytest

from experiments.configs import test as test_config
from tests import run_files
from vae import methods
from vae import rules
from vae.data import dsprites
from vae.methods import beta_tcvae
from vae.methods import beta_vae
from vae.methods import factor_vae
from vae.methods.method import setting
from vae.studies import report
from vae.training import loop
from vae.training import run_directory
from vae.training import train

# The registry's methods beyond the β-VAE, each through the real step and loop.
METHODS = tuple(m for m in methods.SWEPT if m != 'beta_vae')


def _config(method, num_train_steps=4):
  config = test_config.get_config()
  config.model, config.hidden, config.method = 'mlp', 32, method
  # A latent per factor at least, so a method that ties latents to factors trains here too.
  config.latents = max(config.latents, len(dsprites.FACTOR_SIZES))
  config.num_train_steps = num_train_steps
  return config


def test_the_registry_refuses_a_name_or_a_setting_declared_twice():
  with pytest.raises(ValueError, match="two methods are named 'beta_vae'"):
    methods._registry(beta_vae.BetaVAE, beta_vae.BetaVAE)

  @dataclasses.dataclass(frozen=True)
  class Clash(beta_vae.BetaVAE):
    name = 'clash'
    tc_estimator: str = setting('mws', rules.OneOf(('mws',)))

  with pytest.raises(ValueError,
                     match="clash declares setting 'tc_estimator' with another rule or default"):
    methods._registry(beta_tcvae.BetaTCVAE, Clash)


def test_what_derives_from_the_registry():
  # The reference study's six methods are swept, each objective once (`vae` is `beta_vae`'s).
  assert {'beta_vae', 'beta_tcvae', 'factor_vae', 'dip_vae_i', 'dip_vae_ii',
          'annealed_vae'} <= set(methods.SWEPT)
  assert 'vae' not in methods.SWEPT and all(methods.get(m).strength for m in methods.SWEPT)
  assert methods.AUTOENCODERS == ('ae', 'sparse_ae', 'denoising_ae', 'contractive_ae', 'qlae')
  for name, method in methods.REGISTRY.items():
    # What a summary shows of a method is among what it logs, and is a summary column.
    assert set(method.summary_terms) <= set(method.terms)
    assert set(method.summary_terms) <= set(report.EVAL_COLUMNS)
    if method.strength:
      assert methods.strength_setting(name) in methods.own_settings(name)
  # A model's saved config keeps its method's settings and drops every other method's.
  config = test_config.get_config()
  config.method = 'factor_vae'
  saved = run_directory.member_config(config, run_directory.Member(20.0, 3, '/unused'))
  assert saved.gamma == 20.0 and saved.seed == 3 and 'discriminator_hidden' in saved
  assert not {'beta', 'tc_estimator', 'sparsity_weight', 'capacity_max', 'mesh_shape'} & set(saved)


@pytest.mark.parametrize('name', methods.NAMES)
def test_every_method_logs_the_terms_it_declares(name):
  config = _config(name)
  method = methods.get(name)
  model = train.create_model(config, dsprites.IMAGE_SHAPE)
  state = train.create_train_state(jax.random.key(0), config, model, dsprites.IMAGE_SHAPE,
                                   dsprites.NUM_COMBINATIONS)
  _, metrics = train.train_step(state, _batch(state, config), jax.random.key(2))
  assert {'loss', 'recon', *method.terms} <= set(metrics)
  assert ('elbo' in metrics) == method.variational
  assert all(np.isfinite(float(v)) for v in metrics.values())


def _batch(state, config):
  """One training batch of the state's method (observations, or what it trains on)."""
  return state.method.sampler(dsprites.dataset())(jax.random.key(1), config.batch_size)


def _state(config):
  model = train.create_model(config, dsprites.IMAGE_SHAPE)
  return train.create_train_state(jax.random.key(0), config, model, dsprites.IMAGE_SHAPE,
                                  dsprites.NUM_COMBINATIONS)


@pytest.mark.parametrize('method', METHODS)
def test_a_new_strength_never_recompiles_the_step(method):
  config = _config(method)
  state = _state(config)
  batch = _batch(state, config)
  state, _ = train.train_step(state, batch, jax.random.key(2))
  compiled = train.train_step._cache_size()
  setting = methods.strength_setting(method)
  for strength in (0.0, 3.0, 40.0):
    state, metrics = train.train_step(train.set_strength(state, strength), batch,
                                      jax.random.key(3))
    assert float(metrics[setting]) == strength
    assert all(np.isfinite(float(v)) for v in metrics.values())
  assert train.train_step._cache_size() == compiled


def test_factor_vae_trains_its_discriminator_in_the_same_step():
  config = _config('factor_vae')
  state = _state(config)
  assert state.critic is not None and _state(_config('beta_tcvae')).critic is None
  # The reference study's critic: 6 hidden layers of 1000 by default (2 × 16 in the test config).
  layers = state.critic['params']
  assert len(layers) == config.discriminator_layers + 1
  assert layers['Dense_0']['kernel'].shape == (config.latents, config.discriminator_hidden)
  before = jax.tree.map(np.asarray, state.critic['params'])
  batch = dsprites.sample(jax.random.key(1), config.batch_size)
  state, metrics = train.train_step(state, batch, jax.random.key(2))
  moved = jax.tree.map(lambda a, b: not np.array_equal(a, b), before, state.critic['params'])
  assert all(jax.tree.leaves(moved))
  # Adam's first step moves every weight by about the learning rate (β₁ 0.5, β₂ 0.9 bias-corrected).
  step = np.abs(np.asarray(state.critic['params']['Dense_0']['kernel']) - before['Dense_0']['kernel'])
  assert np.median(step) == pytest.approx(config.discriminator_learning_rate, rel=0.05)
  assert 0 <= float(metrics['discriminator_accuracy']) <= 1


# FactorVAE (the one with a critic) in the fast suite; the others in the slow one (`.ci/run`).
@pytest.mark.parametrize('method', [
    m if m == 'factor_vae' else pytest.param(m, marks=pytest.mark.slow) for m in METHODS])
def test_every_method_trains_checkpoints_and_resumes_exactly(method, tmp_path, monkeypatch):
  straight = str(tmp_path / 'straight')
  final = loop.train_and_evaluate(_config(method), straight)
  # The eval row (single observations, `Method.evaluate`) holds what a summary shows.
  variational = ('kl', 'elbo', 'log_px', 'elbo_gap') if methods.get(method).variational else ()
  for name in ('recon', *variational, *methods.get(method).summary_terms):
    assert np.isfinite(final[name]), name
  # Killed in the second fused chunk (steps 2 to 4), after the step-2 checkpoint; then re-run.
  resumed = str(tmp_path / 'resumed')
  chunks, run_steps = [], loop._run_steps

  def killed_in_the_second_chunk(*args):
    chunks.append(1)
    if len(chunks) == 2:
      raise run_files.Killed('killed in the second chunk')
    return run_steps(*args)

  with monkeypatch.context() as patch:
    patch.setattr(loop, '_run_steps', killed_in_the_second_chunk)
    with pytest.raises(run_files.Killed):
      loop.train_and_evaluate(_config(method), resumed)
  assert loop.train_and_evaluate(_config(method), resumed) == final
  # Parameters (the critic's included), rows without timings, events, figures: the same bits.
  assert run_files.snapshot(resumed) == run_files.snapshot(straight)
  state = run_directory.restore_run(resumed)[2]
  has_critic = issubclass(methods.get(method), factor_vae.FactorVAE)  # S2-FactorVAE's too.
  assert int(state.step) == 4 and (state.critic is not None) == has_critic
