"""The training step, evaluation, and an end-to-end run that saves, resumes and checks the step."""

import os

import jax
import numpy as np
import pytest

from benchmarks import conv_precision
from tests import host_dsprites
from vae import models
from vae.data import dsprites
from vae.errors import UserInputError
from vae.evaluation import model_evaluation
from vae.training import loop
from vae.training import train
from vae.training.metric_writer import read_metrics


def _state(config):
  model = models.create_model(config, dsprites.IMAGE_SHAPE, variational=True)
  return train.create_train_state(jax.random.key(0), config, model, dsprites.IMAGE_SHAPE)


@pytest.mark.parametrize('method', ['beta_vae', 'ada_gvae'])
def test_a_host_source_trains_as_the_same_source_in_graph(config, tmp_path, method):
  # The host path draws each step's batch (observations, or a method's pairs) on the host and
  # runs step by step; the in-graph path fuses the steps with the batches drawn inside. The same
  # keys give the same batches, so the models agree to float32 rounding.
  config.method, config.latents = method, 5
  rows = [loop.train_and_evaluate(config, str(tmp_path / source.name), source)
          for source in (dsprites.dataset(), host_dsprites.dataset())]
  assert rows[0].keys() == rows[1].keys()
  for name in rows[0]:
    assert rows[1][name] == pytest.approx(rows[0][name], rel=1e-4, abs=1e-4), name


def test_train_step_is_finite_and_changing_beta_does_not_recompile(config):
  batch = dsprites.sample(jax.random.key(1), config.batch_size)
  state = _state(config)
  before = train.train_step._cache_size()
  state, metrics = train.train_step(state, batch, jax.random.key(2))
  after_first = train.train_step._cache_size()
  for beta in (0.0, 2.5, 16):
    state, metrics = train.train_step(train.set_strength(state, beta), batch, jax.random.key(3))
    assert float(metrics['beta']) == beta
    assert all(np.isfinite(float(v)) for v in metrics.values())
  assert after_first - before <= 1
  assert train.train_step._cache_size() == after_first
  assert int(state.step) == 4


def test_train_step_lowers_the_loss_on_a_fixed_batch(config):
  # One-step regression: a gradient step on a fixed batch and ε must lower that batch's loss.
  batch = dsprites.sample(jax.random.key(1), config.batch_size)
  state = _state(config)
  key = jax.random.key(2)
  loss_before = model_evaluation.eval_step(state, batch, key)['loss']
  for _ in range(3):
    state, _ = train.train_step(state, batch, key)
  assert model_evaluation.eval_step(state, batch, key)['loss'] < loss_before


def test_train_step_is_deterministic_given_its_key(config):
  batch = dsprites.sample(jax.random.key(1), config.batch_size)
  _, a = train.train_step(_state(config), batch, jax.random.key(7))
  _, b = train.train_step(_state(config), batch, jax.random.key(7))
  _, c = train.train_step(_state(config), batch, jax.random.key(8))
  assert float(a['loss']) == float(b['loss'])
  assert float(a['loss']) != float(c['loss'])


def test_end_to_end_saves_and_resumes(config, tmp_path):
  workdir = str(tmp_path / 'run')
  metrics = loop.train_and_evaluate(config, workdir)
  assert np.isfinite(metrics['loss'])
  rows = read_metrics(workdir)
  assert [(r['step'], r['split']) for r in rows] == [
      (2, 'train'), (2, 'eval'), (4, 'train'), (4, 'eval')]
  for row in rows:
    for name in ('loss', 'recon', 'kl', 'elbo', 'beta', *[f'kl_per_dim/{i}' for i in range(4)]):
      assert np.isfinite(row[name]), (row, name)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  for figure in ('reconstructions.png', 'samples.png', 'traversals.png'):
    assert os.path.getsize(os.path.join(workdir, 'figures', figure)) > 1000
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(workdir))

  # Re-running the finished run trains nothing and keeps the metrics as they were.
  loop.train_and_evaluate(config, workdir)
  assert read_metrics(workdir) == rows

  # A longer budget resumes from step 4, not from scratch.
  config.num_train_steps = 6
  loop.train_and_evaluate(config, workdir)
  steps = [(r['step'], r['split']) for r in read_metrics(workdir)]
  assert steps == [(2, 'train'), (2, 'eval'), (4, 'train'), (4, 'eval'), (6, 'train'), (6, 'eval')]


def test_resume_matches_an_uninterrupted_run(config, tmp_path):
  # Same keys per step (fold_in(train_key, step)): a run stopped at step 2 and resumed must end
  # where a run that never stopped ends.
  config.num_train_steps = 2
  loop.train_and_evaluate(config, str(tmp_path / 'a'))
  config.num_train_steps = 4
  resumed = loop.train_and_evaluate(config, str(tmp_path / 'a'))
  straight = loop.train_and_evaluate(config, str(tmp_path / 'b'))
  # Both run the same 2-step chunk programs on the same float32 bits (the checkpoint restores
  # them exactly): equal, not close. Wrong step keys after the resume move the loss by ~1e-5.
  assert resumed['loss'] == straight['loss']


def test_metrics_written_after_the_last_checkpoint_are_rewritten_on_resume(config, tmp_path):
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(config, workdir)
  # Simulate a crash after step 4 was logged but before its checkpoint landed.
  import shutil
  shutil.rmtree(os.path.join(workdir, 'checkpoints', '4'))
  loop.train_and_evaluate(config, workdir)
  steps = [(r['step'], r['split']) for r in read_metrics(workdir)]
  assert steps == [(2, 'train'), (2, 'eval'), (4, 'train'), (4, 'eval')]


def test_non_finite_loss_raises_a_clear_error(config, tmp_path):
  config.learning_rate = 1e30
  config.num_train_steps = 6
  with pytest.raises(FloatingPointError, match='non-finite loss .* lower --config.learning_rate'):
    loop.train_and_evaluate(config, str(tmp_path / 'run'))


@pytest.mark.parametrize('setting,value,message', [
    ('beta', -1.0, '--config.beta=-1.0 must be >= 0'),
    ('latents', 0, '--config.latents=0 must be a positive integer'),
    ('batch_size', -2, '--config.batch_size=-2 must be a positive integer'),
    ('num_train_steps', 0, '--config.num_train_steps=0 must be a positive integer'),
    ('learning_rate', 0.0, '--config.learning_rate=0.0 must be a finite number > 0'),
    ('model', 'resnet', "unknown model 'resnet' (--config.model); allowed: conv, mlp"),
    ('likelihood', 'poisson', "unknown likelihood 'poisson' (--config.likelihood)"),
    ('dataset', 'cifar', "unknown dataset 'cifar' (--config.dataset)"),
])
def test_bad_settings_write_nothing(config, tmp_path, setting, value, message):
  config[setting] = value
  workdir = tmp_path / 'run'
  with pytest.raises(UserInputError) as error:
    loop.train_and_evaluate(config, str(workdir))
  assert str(error.value).startswith(message)
  assert not workdir.exists()


def test_unwritable_workdir(config, tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('')
  with pytest.raises(UserInputError, match=f'--workdir={blocker}/run cannot be written'):
    loop.train_and_evaluate(config, str(blocker / 'run'))


def test_checkpoint_of_another_shape(config, tmp_path):
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(config, workdir)
  rows = read_metrics(workdir)
  config.latents = 5
  with pytest.raises(UserInputError, match=r'holds a finished model with other settings '
                     r'\(latents: 4 -> 5\); use a new --workdir'):
    loop.train_and_evaluate(config, workdir)
  config.num_train_steps = 6  # Not finished at this budget: the checkpoint itself is refused.
  with pytest.raises(UserInputError, match='checkpoint at step 4 .* another model shape'):
    loop.train_and_evaluate(config, workdir)
  assert read_metrics(workdir) == rows


def test_training_program_gradients_match_float64():
  # The loop's own scanned program, default conv form (matmul on CPU, YNNPACK as XLA chooses),
  # against float64 with the same batches and ε; the bound's derivation is in the benchmark.
  loss_error, leaf_errors = conv_precision.training_errors_against_float64()
  assert loss_error <= 1e-5
  worst = max(leaf_errors, key=leaf_errors.get)
  assert leaf_errors[worst] <= conv_precision.BOUND, (worst, leaf_errors[worst])
