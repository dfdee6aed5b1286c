"""Training (β-)VAEs, the pure part: the state, the jitted step, fused steps, evaluation.

Nothing here touches files; `vae.run_loop` drives these functions and `vae.run_state` owns what
a run writes. A group of models that share a config but not β or seed (one model for a single
run, many for a sweep) trains with one `vmap`-ed, `scan`-fused program (`group_train_steps`).

Keys: one `jax.random.key(config.seed)` split once into `init`, `train`, `eval` and `sample`
(`named_keys`);
step s uses `fold_in(train_key, s)`, split into the data key and the ε key, so a resumed run sees
the same data and noise as an uninterrupted one.
"""

import functools
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from vae import models
from vae import objectives


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


def _group_train_steps(states, train_keys, sample_batch, batch_size, num_steps):
  steps = functools.partial(train_steps, sample_batch=sample_batch, batch_size=batch_size,
                            num_steps=num_steps)
  return jax.vmap(steps)(states, train_keys)


# Every model of a group (states stacked on a leading axis) through `num_steps` fused steps.
group_train_steps = jax.jit(_group_train_steps, static_argnums=(2, 3, 4), donate_argnums=0)
# One step of every model of a group on host-drawn batches [models, batch, ...].
group_train_step = jax.jit(jax.vmap(_train_step), donate_argnums=0)
