"""The tests' sweep of 8 tiny models, trained without scores: `python -m tests.parallel_sweep
WORKDIR MESH_SHAPE NUM_TRAIN_STEPS` (run with JAX_NUM_CPU_DEVICES set), or `run` in-process.

After training it writes WORKDIR/programs.json: for each compiled training program, whether its
HLO holds an all-reduce and the partition spec of each output leaf. With NUM_TRAIN_STEPS
'restore' it trains nothing: it restores every member's newest checkpoint, places the group on
this process's devices, gathers it back and writes WORKDIR/restored.npz.
"""

import json
import os
import sys

import jax
import numpy as np

from experiments.configs import test as test_config
from vae import settings
from vae.studies import sweep
from vae.training import loop
from vae.training import parallel
from vae.training import run_directory

STRENGTHS, SEEDS = (1.0, 2.0, 4.0, 8.0), 2


def config(mesh_shape='auto', num_train_steps=4):
  config = test_config.get_config()
  config.model, config.hidden, config.mesh_shape = 'mlp', 16, mesh_shape
  config.num_train_steps = num_train_steps
  config.betas = ','.join(str(b) for b in STRENGTHS)
  config.num_seeds = SEEDS
  return config


def run(workdir, mesh_shape='auto', num_train_steps=4):
  """Trains the 8 members in one group; returns them."""
  sweep_config = config(mesh_shape, num_train_steps)
  members = sweep.members(sweep_config, workdir)
  dataset = settings.check_config(sweep_config)
  loop.train_members(sweep_config, dataset, members, models_per_step=len(members))
  return members


def _programs():
  return [{'all_reduce': 'all-reduce' in program.as_text(),
           'output_specs': sorted({str(s.spec) for s in jax.tree.leaves(program.output_shardings)})}
          for program in loop._PROGRAMS.values()]


def restored_leaves(workdir, mesh_shape='auto'):
  """Every member's newest checkpoint, placed on this process's mesh and gathered back."""
  sweep_config = config(mesh_shape)
  members = sweep.members(sweep_config, workdir)
  states = [run_directory.restore_run(m.workdir)[2] for m in members]
  layout = parallel.layout(sweep_config, len(members))
  placed = layout.place(jax.tree.map(lambda *xs: np.stack(xs), *states))
  return {f'{i}_{j}': np.asarray(leaf) for i, member in enumerate(
      layout.members(placed, len(members))) for j, leaf in enumerate(jax.tree.leaves(member))}


if __name__ == '__main__':
  workdir, mesh, steps = sys.argv[1:]
  if steps == 'restore':
    np.savez(os.path.join(workdir, 'restored.npz'), **restored_leaves(workdir, mesh))
  else:
    run(workdir, mesh, int(steps))
    with open(os.path.join(workdir, 'programs.json'), 'w') as f:
      json.dump(_programs(), f)
