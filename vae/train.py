"""Training a (β-)VAE: the state, a pure jitted step, evaluation, and the step-based loop.

Keys: one `jax.random.key(config.seed)` split once into `init`, `train`, `eval` and `sample`;
step s uses `fold_in(train_key, s)`, split into the data key and the ε key, so a resumed run sees
the same data and noise as an uninterrupted one.
"""

import functools
import os
import time
from typing import Any

from absl import logging
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vae import checkpoint
from vae import data
from vae import models
from vae import objectives
from vae import plotting
from vae.errors import UserInputError
from vae.metric_writer import MetricWriter, drop_rows_after

_POSITIVE_INT_SETTINGS = ('latents', 'batch_size', 'num_train_steps', 'log_every_steps',
                          'eval_every_steps', 'checkpoint_every_steps', 'num_eval_examples',
                          'eval_batch_size')


@flax.struct.dataclass
class TrainState:
  """Parameters, optimizer state and β (traced, so a new β never recompiles the step)."""

  step: jax.Array
  params: Any
  opt_state: Any
  beta: jax.Array
  model: models.VAE = flax.struct.field(pytree_node=False)
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)


def check_config(config):
  """Raises a one-line UserInputError for a setting outside its allowed range."""
  for name in _POSITIVE_INT_SETTINGS:
    if config[name] <= 0:
      raise UserInputError(f'--config.{name}={config[name]} must be a positive integer')
  if config.model == 'mlp' and config.hidden <= 0:
    raise UserInputError(f'--config.hidden={config.hidden} must be a positive integer')
  if not config.beta >= 0:
    raise UserInputError(f'--config.beta={config.beta} must be >= 0')
  if not config.learning_rate > 0:
    raise UserInputError(f'--config.learning_rate={config.learning_rate} must be > 0')


def create_train_state(key, config, model: models.VAE, observation_shape) -> TrainState:
  """Initial parameters (from `key`) and Adam state for `model`."""
  init_key, noise_key = jax.random.split(key)
  dummy = jnp.zeros((1, *observation_shape), jnp.float32)
  params = model.init(init_key, dummy, noise_key)['params']
  tx = optax.adam(config.learning_rate)
  state = TrainState(step=jnp.asarray(0, jnp.int32), params=params, opt_state=tx.init(params),
                     beta=None, model=model, tx=tx)
  return set_beta(state, config.beta)


def set_beta(state: TrainState, beta) -> TrainState:
  """`state` with a new β of the step's traced dtype (float32), so the step is not recompiled."""
  return state.replace(beta=jnp.asarray(beta, jnp.float32))


def _loss(params, state: TrainState, batch, key):
  outputs = state.model.apply({'params': params}, batch, key)
  return objectives.beta_vae_loss(batch, outputs, state.beta, state.model.likelihood)


@functools.partial(jax.jit, donate_argnums=0)
def train_step(state: TrainState, batch, key):
  """One Adam step on recon + β·KL; returns the new state and the step's named scalars."""
  grads, metrics = jax.grad(_loss, has_aux=True)(state.params, state, batch, key)
  updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics


@jax.jit
def eval_step(state: TrainState, batch, key):
  """The named scalars of the loss on `batch`, without updating anything."""
  return _loss(state.params, state, batch, key)[1]


def evaluate(state: TrainState, images, key, batch_size):
  """Scalars averaged over `images` (weighted by chunk size), ε from `key`."""
  totals, count = None, 0
  for i, start in enumerate(range(0, len(images), batch_size)):
    chunk = images[start:start + batch_size]
    metrics = eval_step(state, chunk, jax.random.fold_in(key, i))
    weighted = jax.tree.map(lambda m, n=len(chunk): m * n, metrics)
    totals = weighted if totals is None else jax.tree.map(jnp.add, totals, weighted)
    count += len(chunk)
  return {name: float(value) / count for name, value in totals.items()}


def _mean_metrics(history):
  return {name: float(np.mean([float(m[name]) for m in history])) for name in history[0]}


def _check_finite(metrics, step):
  if not np.isfinite(metrics['loss']):
    raise FloatingPointError(
        f"non-finite loss {metrics['loss']} before step {step}: lower --config.learning_rate"
        ' or check the data')


def _prepare_workdir(workdir):
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, '.write_probe')
    with open(probe, 'w'):
      pass
    os.remove(probe)
  except OSError as e:
    raise UserInputError(f'--workdir={workdir} cannot be written: {e.strerror}') from None


def _batch_sampler(dataset):
  return jax.jit(dataset.sample, static_argnums=1) if dataset.jittable else dataset.sample


def save_figures(state: TrainState, images, key, kl_per_dim, figures_dir):
  """reconstructions.png, samples.png and traversals.png for the current parameters."""
  variables = {'params': state.params}
  apply = state.model.apply
  originals = images[:8]
  recon = apply(variables, originals, method=models.VAE.reconstruct)
  plotting.save_reconstructions(os.path.join(figures_dir, 'reconstructions.png'), originals, recon)
  samples = apply(variables, key, 32, method=models.VAE.sample)
  plotting.save_samples(os.path.join(figures_dir, 'samples.png'), samples)
  values = jnp.linspace(-2.5, 2.5, 9)
  traversal = apply(variables, images[:1], values, method=models.VAE.traverse)
  plotting.save_traversals(os.path.join(figures_dir, 'traversals.png'), traversal, values,
                           kl_per_dim)


def train_and_evaluate(config, workdir):
  """Trains `config` in `workdir` (resuming from its latest checkpoint); returns eval scalars."""
  check_config(config)
  dataset = data.get_dataset(config.dataset, config.get('data_dir'))
  model = models.create_model(config, dataset.observation_shape)
  _prepare_workdir(workdir)
  init_key, train_key, eval_key, sample_key = jax.random.split(jax.random.key(config.seed), 4)
  state = create_train_state(init_key, config, model, dataset.observation_shape)
  mngr = checkpoint.manager(workdir)
  state = checkpoint.restore_latest(mngr, state)
  start = int(state.step)
  drop_rows_after(workdir, start)
  writer = MetricWriter(workdir)
  sample_batch = _batch_sampler(dataset)
  eval_data_key, eval_noise_key = jax.random.split(eval_key)
  eval_images = jnp.asarray(sample_batch(eval_data_key, config.num_eval_examples))
  if start:
    logging.info('resuming from the checkpoint at step %d', start)

  history, last_log = [], (time.perf_counter(), start)
  eval_metrics = None
  for step in range(start, config.num_train_steps):
    data_key, noise_key = jax.random.split(jax.random.fold_in(train_key, step))
    state, metrics = train_step(state, sample_batch(data_key, config.batch_size), noise_key)
    history.append(metrics)
    done = step + 1
    if done % config.log_every_steps == 0 or done == config.num_train_steps:
      scalars = _mean_metrics(history)
      _check_finite(scalars, done)
      now = time.perf_counter()
      steps_per_s = (done - last_log[1]) / (now - last_log[0])
      scalars['steps_per_s'] = steps_per_s
      writer.write(done, 'train', scalars)
      logging.info('step %d/%d  loss %.2f  recon %.2f  kl %.2f  %.2f steps/s  ETA %.0f s', done,
                   config.num_train_steps, scalars['loss'], scalars['recon'], scalars['kl'],
                   steps_per_s, (config.num_train_steps - done) / steps_per_s)
      history, last_log = [], (time.perf_counter(), done)
    if done % config.eval_every_steps == 0 or done == config.num_train_steps:
      eval_metrics = evaluate(state, eval_images, eval_noise_key, config.eval_batch_size)
      writer.write(done, 'eval', eval_metrics)
    if done % config.checkpoint_every_steps == 0 or done == config.num_train_steps:
      checkpoint.save(mngr, state)
  mngr.wait_until_finished()
  writer.close()
  if eval_metrics is None:  # Already trained to the end: report the saved state.
    eval_metrics = evaluate(state, eval_images, eval_noise_key, config.eval_batch_size)
  kl_per_dim = [eval_metrics[f'kl_per_dim/{i}'] for i in range(config.latents)]
  save_figures(state, eval_images, sample_key, kl_per_dim, os.path.join(workdir, 'figures'))
  return eval_metrics
