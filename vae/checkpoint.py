"""Orbax checkpoints of the training state: save, and resume from the latest step."""

import os

import jax
import orbax.checkpoint as ocp

from vae.errors import UserInputError

_SAVED_FIELDS = ('step', 'params', 'opt_state', 'beta')


def manager(workdir, max_to_keep=2) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), 'checkpoints'),
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
      item_handlers=ocp.StandardCheckpointHandler())


def _saved(state):
  return {name: getattr(state, name) for name in _SAVED_FIELDS}


def save(mngr: ocp.CheckpointManager, state):
  mngr.save(int(state.step), args=ocp.args.StandardSave(_saved(state)), force=True)


def restore_latest(mngr: ocp.CheckpointManager, state):
  """The latest checkpoint restored into `state`'s structure, or `state` when there is none.

  A checkpoint of another model shape raises a one-line UserInputError before anything is read.
  """
  step = mngr.latest_step()
  if step is None:
    return state
  target = _saved(state)
  # The parameters fix the model's shape (the optimizer state mirrors them).
  stored_shapes = jax.tree.map(lambda m: tuple(m.shape), mngr.item_metadata(step).tree['params'])
  target_shapes = jax.tree.map(lambda a: tuple(a.shape), state.params)
  if stored_shapes != target_shapes:
    raise UserInputError(
        f'checkpoint at step {step} in {mngr.directory} has another model shape than this config'
        ' (--config.model/latents/hidden/likelihood or the dataset differ); use a new --workdir')
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
  restored = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
  return state.replace(**restored)
