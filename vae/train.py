"""Training (β-)VAEs: the state, a pure jitted step, evaluation, and the step-based loop.

The loop trains a group of models that share a config but not β or seed (one model for a single
run, many for a sweep) with one `vmap`-ed, `scan`-fused program.

Keys: one `jax.random.key(config.seed)` split once into `init`, `train`, `eval` and `sample`
(`named_keys`);
step s uses `fold_in(train_key, s)`, split into the data key and the ε key, so a resumed run sees
the same data and noise as an uninterrupted one.
"""

import dataclasses
import functools
import json
import os
import time
from typing import Any

from absl import logging
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from vae import checkpoint
from vae import data
from vae import models
from vae import objectives
from vae import plotting
from vae.errors import UserInputError
from vae.metric_writer import MetricWriter, drop_rows_after

CONFIG_FILE = 'config.json'  # The full config (its own β and seed) of the model in a workdir.
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
  model: models.VAE | models.Autoencoder = flax.struct.field(pytree_node=False)
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
  objective: objectives.Objective = flax.struct.field(pytree_node=False)


def named_keys(seed):
  """The run's keys: `init`, `train`, `sample`, and `eval` split into data, noise, metrics."""
  init, train, evaluation, sample = jax.random.split(jax.random.key(seed), 4)
  eval_data, eval_noise, disentanglement = jax.random.split(evaluation, 3)
  return {'init': init, 'train': train, 'sample': sample, 'eval_data': eval_data,
          'eval_noise': eval_noise, 'disentanglement': disentanglement}


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
  objectives.from_config(config)  # Raises for an unknown method or a setting out of range.


@functools.lru_cache(maxsize=None)
def optimizer(learning_rate: float) -> optax.GradientTransformation:
  """Adam; one object per learning rate, so jitted steps of equal configs share their compile."""
  return optax.adam(learning_rate)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _init_params(model: models.VAE, key, observation_shape):
  init_key, noise_key = jax.random.split(key)
  dummy = jnp.zeros((1, *observation_shape), jnp.float32)
  return model.init(init_key, dummy, noise_key)['params']


def create_train_state(key, config, model: models.VAE, observation_shape) -> TrainState:
  """Initial parameters (from `key`) and Adam state for `model`."""
  params = _init_params(model, key, tuple(observation_shape))
  tx = optimizer(float(config.learning_rate))
  state = TrainState(step=jnp.asarray(0, jnp.int32), params=params, opt_state=tx.init(params),
                     beta=None, model=model, tx=tx, objective=objectives.from_config(config))
  return set_beta(state, config.beta)


def set_beta(state: TrainState, beta) -> TrainState:
  """`state` with a new β of the step's traced dtype (float32), so the step is not recompiled."""
  return state.replace(beta=jnp.asarray(beta, jnp.float32))


def _loss(params, state: TrainState, batch, key):
  return state.objective(state.model, params, batch, key, state.beta)


def _train_step(state: TrainState, batch, key):
  """One Adam step on the state's objective: `(state, batch, key) -> (state, metrics)`."""
  grads, metrics = jax.grad(_loss, has_aux=True)(state.params, state, batch, key)
  updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics


train_step = jax.jit(_train_step, donate_argnums=0)


def step_keys(train_key, step):
  """The data key and the ε key of step `step` (the same in every loop that trains a model)."""
  return jax.random.split(jax.random.fold_in(train_key, step))


def train_steps(state: TrainState, train_key, sample_batch, batch_size: int, num_steps: int):
  """`num_steps` steps fused in one `lax.scan`, each batch drawn in-graph by `sample_batch`.

  Returns the new state and each metric stacked over the steps ([num_steps]).
  """

  def body(state, step):
    data_key, noise_key = step_keys(train_key, step)
    return _train_step(state, sample_batch(data_key, batch_size), noise_key)

  return jax.lax.scan(body, state, state.step + jnp.arange(num_steps))


@jax.jit
def eval_step(state: TrainState, batch, key):
  """The named scalars of the loss on `batch`, without updating anything."""
  return _loss(state.params, state, batch, key)[1]


def evaluate(state: TrainState, images, key, batch_size):
  """Scalars averaged over `images` (weighted by chunk size, in float64), ε from `key`."""
  totals, count = {}, 0
  for i, start in enumerate(range(0, len(images), batch_size)):
    chunk = images[start:start + batch_size]
    for name, value in eval_step(state, chunk, jax.random.fold_in(key, i)).items():
      totals[name] = totals.get(name, 0.0) + float(value) * len(chunk)
    count += len(chunk)
  return {name: total / count for name, total in totals.items()}


def save_figures(state: TrainState, images, key, eval_metrics, figures_dir):
  """reconstructions.png, and for a VAE samples.png and traversals.png (only it generates)."""
  variables = {'params': state.params}
  apply = state.model.apply
  originals = images[:8]
  recon = apply(variables, originals, method='reconstruct')
  plotting.save_reconstructions(os.path.join(figures_dir, 'reconstructions.png'), originals, recon)
  if not isinstance(state.model, models.VAE):
    return
  kl_per_dim = [eval_metrics[f'kl_per_dim/{i}'] for i in range(state.model.latents)]
  samples = apply(variables, key, 32, method=models.VAE.sample)
  plotting.save_samples(os.path.join(figures_dir, 'samples.png'), samples)
  values = jnp.linspace(-2.5, 2.5, 9)
  traversal = apply(variables, images[:1], values, method=models.VAE.traverse)
  plotting.save_traversals(os.path.join(figures_dir, 'traversals.png'), traversal, values,
                           kl_per_dim)


@dataclasses.dataclass(frozen=True)
class Member:
  """One model of a group: its β, its seed and the directory it writes to."""

  beta: float
  seed: int
  workdir: str


@dataclasses.dataclass
class MemberResult:
  eval_metrics: dict | None = None
  failure: str | None = None


def member_config(config, member: Member):
  """`config` with the member's own β and seed: what a single run of that model would use."""
  config = config.copy_and_resolve_references()
  config.beta, config.seed = member.beta, member.seed
  return config


def restore_run(workdir):
  """(config, dataset, state) of the model saved in `workdir`, at its latest checkpoint."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise UserInputError(f'--workdir={workdir} holds no trained model (no {CONFIG_FILE})')
  with open(path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  dataset = data.get_dataset(config.dataset, config.get('data_dir'))
  model = models.create_model(config, dataset.observation_shape)
  state = create_train_state(jax.random.key(0), config, model, dataset.observation_shape)
  mngr = checkpoint.manager(workdir)
  if mngr.latest_step() is None:
    raise UserInputError(f'--workdir={workdir} has no checkpoint to evaluate')
  return config, dataset, checkpoint.restore_latest(mngr, state)


def _prepare_workdir(workdir):
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, '.write_probe')
    with open(probe, 'w'):
      pass
    os.remove(probe)
  except OSError as e:
    raise UserInputError(f'--workdir={workdir} cannot be written: {e.strerror}') from None


def _stack(trees):
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _unstack(tree, size):
  return [jax.tree.map(lambda x, i=i: x[i], tree) for i in range(size)]


def _mean_over_steps(metrics, member):
  return {name: float(np.mean(values[member])) for name, values in metrics.items()}


def _next_boundary(step, config):
  everies = (config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps)
  return min([config.num_train_steps] + [(step // e + 1) * e for e in everies])


@functools.partial(jax.jit, static_argnums=(2, 3, 4), donate_argnums=0)
def _group_train_steps(states, train_keys, sample_batch, batch_size, num_steps):
  steps = functools.partial(train_steps, sample_batch=sample_batch, batch_size=batch_size,
                            num_steps=num_steps)
  return jax.vmap(steps)(states, train_keys)


_group_train_step = jax.jit(jax.vmap(_train_step), donate_argnums=0)


def _run_steps(states, train_keys, dataset, batch_size, num_steps):
  """`num_steps` steps of every model: in one program for in-graph data, else step by step."""
  if dataset.jittable:
    return _group_train_steps(states, train_keys, dataset.sample, batch_size, num_steps)
  history = []
  for _ in range(num_steps):
    keys = [step_keys(k, s) for k, s in zip(train_keys, np.asarray(states.step))]
    batches = np.stack([dataset.sample(data_key, batch_size) for data_key, _ in keys])
    states, metrics = _group_train_step(states, batches, jnp.stack([k for _, k in keys]))
    history.append(metrics)
  return states, jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *history)


class _MemberIO:
  """What one model writes: metrics, checkpoints, its fixed eval set, its keys."""

  def __init__(self, member, config, dataset, model):
    _prepare_workdir(member.workdir)
    keys = named_keys(member.seed)
    self.train_key, self.sample_key = keys['train'], keys['sample']
    own_config = member_config(config, member)
    initial_state = create_train_state(keys['init'], own_config, model,
                                       dataset.observation_shape)
    self.checkpoints = checkpoint.manager(member.workdir)
    self.state = checkpoint.restore_latest(self.checkpoints, initial_state)
    drop_rows_after(member.workdir, int(self.state.step))
    with open(os.path.join(member.workdir, CONFIG_FILE), 'w') as f:
      f.write(own_config.to_json(indent=1) + '\n')
    self.writer = MetricWriter(member.workdir)
    self.eval_noise_key = keys['eval_noise']
    self.eval_images = jnp.asarray(dataset.sample(keys['eval_data'], config.num_eval_examples))
    self.member = member
    self.result = MemberResult()


def _log_progress(step, config, alive, metrics, seconds):
  means = [_mean_over_steps(metrics, i) for i in alive]
  summary = '  '.join(f'{name} {np.mean([m[name] for m in means]):.2f}'
                      for name in ('loss', 'recon', 'kl') if name in means[0])
  logging.info('step %d/%d  %s  %.2f steps/s x %d models  ETA %.0f s', step,
               config.num_train_steps, summary, 1 / seconds, len(alive),
               (config.num_train_steps - step) * seconds)


def _mark_non_finite(ios, metrics, step):
  for i, io in enumerate(ios):
    loss = metrics['loss'][i]
    if not io.result.failure and not np.all(np.isfinite(loss)):
      io.result.failure = (f'non-finite loss {loss[~np.isfinite(loss)][0]} before step {step}:'
                           ' lower --config.learning_rate or check the data')
      logging.warning('%s: %s', io.member.workdir, io.result.failure)


def _train_group(config, dataset, ios):
  """Trains models that start from the same step together, until `num_train_steps`."""
  states = _stack([io.state for io in ios])
  train_keys = jnp.stack([io.train_key for io in ios])
  step = int(ios[0].state.step)
  history, since, since_step = [], time.perf_counter(), step
  while step < config.num_train_steps:
    num_steps = _next_boundary(step, config) - step
    states, metrics = _run_steps(states, train_keys, dataset, config.batch_size, num_steps)
    step += num_steps
    metrics = jax.tree.map(np.asarray, metrics)
    _mark_non_finite(ios, metrics, step)
    if all(io.result.failure for io in ios):
      return
    history.append(metrics)
    alive = [i for i, io in enumerate(ios) if not io.result.failure]
    if step % config.log_every_steps == 0 or step == config.num_train_steps:
      metrics = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *history)
      seconds = (time.perf_counter() - since) / (step - since_step)
      for i in alive:
        ios[i].writer.write(step, 'train',
                            {**_mean_over_steps(metrics, i), 'steps_per_s': 1 / seconds})
      _log_progress(step, config, alive, metrics, seconds)
      history, since, since_step = [], time.perf_counter(), step
    due_eval = step % config.eval_every_steps == 0 or step == config.num_train_steps
    due_checkpoint = step % config.checkpoint_every_steps == 0 or step == config.num_train_steps
    if not (due_eval or due_checkpoint):
      continue
    members = _unstack(states, len(ios))
    for i in alive:
      io = ios[i]
      io.state = members[i]
      if due_eval:
        io.result.eval_metrics = evaluate(io.state, io.eval_images, io.eval_noise_key,
                                          config.eval_batch_size)
        io.writer.write(step, 'eval', io.result.eval_metrics)
      if due_checkpoint:
        checkpoint.save(io.checkpoints, io.state)


def train_members(config, members):
  """Trains each member (β, seed, workdir) of `config`, resuming each from its checkpoints.

  Returns one MemberResult per member: its final eval scalars, or why it failed (non-finite).
  """
  check_config(config)
  dataset = data.get_dataset(config.dataset, config.get('data_dir'))
  model = models.create_model(config, dataset.observation_shape)
  ios = [_MemberIO(member, config, dataset, model) for member in members]
  for start in sorted({int(io.state.step) for io in ios}):
    group = [io for io in ios if int(io.state.step) == start]
    if start:
      logging.info('resuming %d model(s) from the checkpoint at step %d', len(group), start)
    _train_group(config, dataset, group)
  for io in ios:
    io.checkpoints.wait_until_finished()
    io.writer.close()
    if io.result.failure:
      continue
    if io.result.eval_metrics is None:  # Already trained to the end: report the saved state.
      io.result.eval_metrics = evaluate(io.state, io.eval_images, io.eval_noise_key,
                                        config.eval_batch_size)
    save_figures(io.state, io.eval_images, io.sample_key, io.result.eval_metrics,
                 os.path.join(io.member.workdir, 'figures'))
  return [io.result for io in ios]


def train_and_evaluate(config, workdir):
  """Trains `config` in `workdir` (resuming from its latest checkpoint); returns eval scalars."""
  result = train_members(config, [Member(config.beta, config.seed, workdir)])[0]
  if result.failure:
    raise FloatingPointError(result.failure)
  return result.eval_metrics
