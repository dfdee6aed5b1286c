"""Every disentanglement method through the real step and loop: traced strengths, the FactorVAE
critic in the state and checkpoints, finite components, and exact resume."""

import jax
import numpy as np
import pytest

from experiments.configs import test as test_config
from tests import run_files
from vae import methods
from vae import models
from vae.data import dsprites
from vae.training import loop
from vae.training import run_directory
from vae.training import train

METHODS = ('beta_tcvae', 'factor_vae', 'dip_vae_i', 'dip_vae_ii', 'annealed_vae')
# Each method's own logged terms, beside recon, kl, elbo and kl_per_dim/i.
OWN_TERMS = {
    'beta_tcvae': ('mi', 'tc', 'dim_kl', 'beta'),
    'factor_vae': ('tc_estimate', 'discriminator_loss', 'discriminator_accuracy', 'gamma'),
    'dip_vae_i': ('dip_penalty', 'dip_off_diagonal', 'dip_diagonal', 'lambda_od'),
    'dip_vae_ii': ('dip_penalty', 'dip_off_diagonal', 'dip_diagonal', 'lambda_od'),
    'annealed_vae': ('capacity', 'capacity_max'),
}


def _config(method, num_train_steps=4):
  config = test_config.get_config()
  config.model, config.hidden, config.method = 'mlp', 32, method
  config.num_train_steps = num_train_steps
  return config


def _state(config):
  model = models.create_model(config, dsprites.IMAGE_SHAPE, variational=True)
  return train.create_train_state(jax.random.key(0), config, model, dsprites.IMAGE_SHAPE,
                                  dsprites.NUM_COMBINATIONS)


@pytest.mark.parametrize('method', METHODS)
def test_a_new_strength_never_recompiles_the_step(method):
  config = _config(method)
  state = _state(config)
  batch = dsprites.sample(jax.random.key(1), config.batch_size)
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
  for name in ('recon', 'kl', 'elbo', 'log_px', 'elbo_gap', *OWN_TERMS[method]):
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
  assert int(state.step) == 4 and (state.critic is not None) == (method == 'factor_vae')
