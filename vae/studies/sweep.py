"""A sweep over one method's strength: |strengths| × |seeds| models trained together (`vmap`),
scored, then reported.

The strengths are `--config.strengths` when given; else `--config.betas` for a method whose
strength is β (β-VAE, β-TCVAE); else the reference study's values for the method
(its `strength.defaults`, `vae.methods`). Model (v, s) is exactly the single run
`--config.<strength setting>=v --config.seed=config.seed+s`: same keys, same data stream, so a
sweep row can be checked against a single run. Each model writes to
`workdir/runs/<method>_<v>_seed_<s>/` what a single run writes to its workdir, plus its
disentanglement scores, before its completion marker (`vae.training.run_directory`).
"""

import os

from absl import logging
import numpy as np

from vae import files
from vae import settings
from vae.studies import report
from vae.training import loop
from vae.training import parallel
from vae.training import run_directory


def _value_name(value):
  """The shortest decimal that reads back as `value` (distinct values never share a directory)."""
  return np.format_float_positional(value, trim='-')


def run_dir(workdir, method, strength, seed_offset):
  return os.path.join(workdir, 'runs', f'{method}_{_value_name(strength)}_seed_{seed_offset}')


def members(config, workdir) -> list[run_directory.Member]:
  """One member per (strength, seed), strength-major."""
  return [run_directory.Member(v, config.seed + s, run_dir(workdir, config.method, v, s))
          for v in settings.sweep_strengths(config) for s in range(config.num_seeds)]


def train_sweep(config, dataset, workdir) -> list[run_directory.Member]:
  """Trains and scores every unfinished member, `models_per_step` at a time; returns the
  finished ones.

  A member whose loss goes non-finite is recorded in its `failed.txt` and left out; the others
  finish. Re-running skips finished and failed members and resumes the rest exactly.
  """
  sweep = members(config, workdir)
  todo = [m for m in sweep if not run_directory.is_complete(m.workdir, config.num_train_steps)]
  logging.info('sweep of %d models: %d to train or finish', len(sweep), len(todo))
  results = loop.train_members(config, dataset, sweep, group_size=config.models_per_step,
                               disentanglement=config.disentanglement)
  for member, result in zip(sweep, results):
    if (result.failure and parallel.writes_checkpoints()
        and run_directory.failure(member.workdir) is None):
      run_directory.record_failure(member.workdir, result.failure)
  return [m for m, r in zip(sweep, results) if not r.failure]


def run(config, workdir, dataset=None):
  """Trains and scores the sweep, writes the report; returns (rows, excluded).

  `config` is checked (every member: its strength listed, its seed in range) and its source
  opened here, before the directory is made, unless the caller did and hands `dataset` over.

  The sweep's directory is locked for the whole run: one sweep per workdir. With several
  processes (`vae.training.parallel`) each trains its part, and process 0 alone locks, reports and
  returns the rows; the others return None.
  """
  if dataset is None:
    dataset = settings.check_config(config)
  if not parallel.writes_checkpoints():
    train_sweep(config, dataset, workdir)
    return None
  files.prepare_directory(workdir)
  lock = files.DirectoryLock(workdir)
  try:
    files.remove_temporaries(workdir, os.path.join(workdir, 'figures'))
    train_sweep(config, dataset, workdir)
    return report.write_report(workdir)
  finally:
    lock.release()
