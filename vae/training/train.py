"""Training VAEs and autoencoders, the pure part: the state, the jitted step, fused steps.

Nothing here touches files; `vae.training.loop` drives these functions,
`vae.training.run_directory` owns what a run writes and `vae.evaluation.model_evaluation` evaluates
the states. Everything here is one model's; a group of models that share a config but not β or
seed (one model for a single run, many for a sweep) runs `train_steps` of each model in one
program that `vae.training.parallel` lays out over the devices (`Layout.per_device`).

Keys: one `jax.random.key(config.seed)` split once into `init`, `train`, `eval` and `sample`
(`named_keys`);
step s uses `fold_in(train_key, s)`, split into the data key and the ε key, so a resumed run sees
the same data and noise as an uninterrupted one.
"""

import functools
import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from vae import methods
from vae import models


@flax.struct.dataclass
class TrainState:
  """Parameters, optimizer state, the method's strength and its critic, if it has one.

  `strength` (β, γ, λ_od or C_max: the method's `strength`) is traced, so a new value never
  recompiles the step. `critic` is a method's own trained part, `{'params', 'opt_state'}` of
  FactorVAE's discriminator, updated in the same step; None for every other method.
  """

  step: jax.Array
  params: Any
  opt_state: Any
  strength: jax.Array
  critic: Any
  model: models.VAE | models.Autoencoder = flax.struct.field(pytree_node=False)
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
  method: methods.Method = flax.struct.field(pytree_node=False)


def named_keys(seed):
  """The run's keys: `init`, `train`, `sample`, and `eval` split into data, noise, metrics.

  `log_px` (the importance samples of the final evaluation) is folded from `eval`, so the other
  keys do not depend on it.
  """
  init, train, evaluation, sample = jax.random.split(jax.random.key(seed), 4)
  eval_data, eval_noise, disentanglement = jax.random.split(evaluation, 3)
  return {'init': init, 'train': train, 'sample': sample, 'eval_data': eval_data,
          'eval_noise': eval_noise, 'disentanglement': disentanglement,
          'log_px': jax.random.fold_in(evaluation, 0)}


@functools.lru_cache(maxsize=None)
def optimizer(method, learning_rate: float, observation_size: int) -> optax.GradientTransformation:
  """The method's optimizer (Adam for all but QLAE); one object per (method, learning rate,
  observation size), so jitted steps of equal configs share their compile."""
  return method.optimizer(learning_rate, observation_size)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _init_params(model: models.VAE, key, observation_shape):
  init_key, noise_key = jax.random.split(key)
  dummy = jnp.zeros((1, *observation_shape), jnp.float32)
  return model.init(init_key, dummy, noise_key)['params']


def create_model(config, observation_shape) -> models.VAE | models.Autoencoder:
  """The network of `config`: a VAE for a variational method, else a deterministic autoencoder."""
  method = methods.get(config.method)
  return models.create_model(config, observation_shape, method.variational,
                             **method.model_options(config))


def create_train_state(key, config, model: models.VAE, observation_shape,
                       num_examples=None) -> TrainState:
  """Initial parameters (from `key`), optimizer state and critic of `model`.

  `num_examples` is the size of the training set (`GroundTruthDataset.num_examples`).
  """
  method = methods.from_config(config, num_examples)
  params = _init_params(model, key, tuple(observation_shape))
  tx = optimizer(method, float(config.learning_rate), math.prod(observation_shape))
  # Folded, not split from `key`: the VAE's initial parameters stay those of before critics.
  critic_params = method.init_critic(jax.random.fold_in(key, 1), model.latents)
  critic = None if critic_params is None else {
      'params': critic_params, 'opt_state': method.critic_tx.init(critic_params)}
  state = TrainState(step=jnp.asarray(0, jnp.int32), params=params, opt_state=tx.init(params),
                     strength=None, critic=critic, model=model, tx=tx, method=method)
  return set_strength(state, methods.strength_of(config))


def abstract_group(config, model, observation_shape, width: int, num_examples=None):
  """Shapes and dtypes of `width` stacked states of `model` and their train keys: what a
  group's program is compiled for, without allocating anything."""
  state = jax.eval_shape(lambda k: create_train_state(k, config, model, observation_shape,
                                                      num_examples), jax.random.key(0))
  states = jax.tree.map(lambda x: jax.ShapeDtypeStruct((width, *x.shape), x.dtype), state)
  return states, jax.ShapeDtypeStruct((width,), jax.random.key(0).dtype)


def set_strength(state: TrainState, strength) -> TrainState:
  """`state` with a new strength of the step's traced dtype (float32): no recompilation."""
  return state.replace(strength=jnp.asarray(strength, jnp.float32))


def _loss(params, critic_params, state: TrainState, batch, key):
  return state.method(state.model, params, critic_params, batch, key, state.strength,
                         state.step)


def _critic_params(state: TrainState):
  return None if state.critic is None else state.critic['params']


def pure_train_step(state: TrainState, batch, key):
  """One Adam step on the state's method's loss (and its critic's): `(state, batch, key) -> (state,
  metrics)`."""
  grads, metrics = jax.grad(_loss, argnums=(0, 1), has_aux=True)(
      state.params, _critic_params(state), state, batch, key)
  updates, opt_state = state.tx.update(grads[0], state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  critic = state.critic
  if critic is not None:
    updates, critic_opt_state = state.method.critic_tx.update(grads[1], critic['opt_state'],
                                                                 critic['params'])
    critic = {'params': optax.apply_updates(critic['params'], updates),
              'opt_state': critic_opt_state}
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                       critic=critic), metrics


train_step = jax.jit(pure_train_step, donate_argnums=0)


def step_keys(train_key, step):
  """The data key and the ε key of step `step` (the same in every loop that trains a model)."""
  return jax.random.split(jax.random.fold_in(train_key, step))


def train_steps(state: TrainState, train_key, sample_batch, batch_size: int, num_steps: int):
  """`num_steps` steps fused in one `lax.scan`, each batch drawn in-graph by `sample_batch`.

  Returns the new state and each metric stacked over the steps ([num_steps]).
  """

  def body(state, step):
    data_key, noise_key = step_keys(train_key, step)
    return pure_train_step(state, sample_batch(data_key, batch_size), noise_key)

  return jax.lax.scan(body, state, state.step + jnp.arange(num_steps))
