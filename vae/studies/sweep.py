"""A sweep over one method's strength: |strengths| × |seeds| models trained together (`vmap`),
scored, then reported.

The strengths are `--config.strengths` when given; else `--config.betas` for a method whose
strength is β (β-VAE, β-TCVAE); else the reference study's values for the method
(its `strength.defaults`, `vae.methods`). Model (v, s) is exactly the single run
`--config.<strength setting>=v --config.seed=config.seed+s`: same keys, same data stream, so a
sweep row can be checked against a single run. Each model writes to
`workdir/runs/<method>_<v>_seed_<s>/` what a single run writes to its workdir, plus its
disentanglement scores, before its completion marker (`vae.training.run_directory`).

Once the models are trained, `workdir/udr.json` holds each finished model's UDR against the
others (`vae.evaluation.udr`): every model encodes the same inputs, drawn with a key of the
sweep's seed, so a sweep that grows by seeds or strengths scores its new models on the inputs of
its old ones, and all of them again against the grown set. Each model's codes are kept in
`workdir/udr_codes/`, so only a new model is restored and encoded.

With `--config.shard=I/N` a process trains only its part of the members (`vae.studies.shards`)
and reports nothing; `experiments.report` merges the parts (`report_study`).
"""

import io
import os

from absl import logging
import jax
import numpy as np

from vae import files
from vae import settings
from vae.evaluation import udr
from vae.methods.method import strength_label
from vae.studies import report
from vae.studies import shards
from vae.training import loop
from vae.training import parallel
from vae.training import run_directory


def run_dir(workdir, method, strength, seed_offset):
  return os.path.join(workdir, 'runs', f'{method}_{strength_label(strength)}_seed_{seed_offset}')


def members(config, workdir, shard=None) -> list[run_directory.Member]:
  """One member per (strength, seed), strength-major; with `shard` (`vae.studies.shards`), those
  it trains."""
  return [run_directory.Member(v, config.seed + s, run_dir(workdir, config.method, v, s))
          for v in settings.sweep_strengths(config) for s in range(config.num_seeds)
          if shard is None or shards.owner(config.method, v, s, shard.count) == shard.index]


def train_sweep(config, dataset, workdir, shard=None):
  """Trains and scores every unfinished member (of `shard`, if given), `models_per_step` at a
  time.

  A member whose loss goes non-finite is recorded in its `failed.txt` and left out; the others
  finish. Re-running skips finished and failed members and resumes the rest exactly.
  """
  sweep = members(config, workdir, shard)
  todo = [m for m in sweep if not run_directory.is_complete(m.workdir, config.num_train_steps)]
  part = '' if shard is None else f' (shard {shard}: {len(sweep)} of the study\'s models)'
  logging.info('sweep of %d models%s: %d to train or finish', len(sweep), part, len(todo))
  if not sweep:
    return
  results = loop.train_members(config, dataset, sweep, models_per_step=config.models_per_step,
                               disentanglement=config.disentanglement)
  for member, result in zip(sweep, results):
    if (result.failure and parallel.writes_checkpoints()
        and run_directory.failure(member.workdir) is None):
      run_directory.record_failure(member.workdir, result.failure)


# The UDR inputs' stream of the sweep's seed: `fold_in`, not one of the run keys' splits, so the
# inputs are no model's training or evaluation data.
_UDR_STREAM = 0x0D12
UDR_CODES_DIR = 'udr_codes'


def _udr_record(names, result, udr_settings):
  """udr.json's content: the settings, each model's scores by run directory name, and the
  pairwise matrices in `order` (row: the model whose codes predict, column: the one predicted)."""
  finite = lambda v: float(v) if np.isfinite(v) else None
  return {'settings': udr_settings, 'order': names,
          'models': {n: {**{s: finite(result[s][i]) for s in udr.SCORE_NAMES.values()},
                         'active_latents': int(result['active_latents'][i])}
                     for i, n in enumerate(names)},
          'pairwise': {s: [[finite(v) for v in row] for row in matrix]
                       for s, matrix in result['pairwise'].items()}}


def _udr_codes(config, dataset, workdir, member):
  """(codes, KL per latent) of `member` on the study's UDR inputs: read from
  `workdir/udr_codes/<run>.npz` when saved for these inputs and this model's final step, else
  encoded (the model restored) and saved there, so a study that grows encodes its new models
  alone."""
  path = os.path.join(workdir, UDR_CODES_DIR, f'{os.path.basename(member.workdir)}.npz')
  inputs = np.array([config.seed, config.udr.num_points,
                     run_directory.completed_step(member.workdir)])
  if os.path.exists(path):
    with np.load(path) as saved:
      if np.array_equal(saved['inputs'], inputs):
        return saved['codes'], saved['kl']
  _, _, state = run_directory.restore_run(member.workdir, dataset)
  key = jax.random.fold_in(jax.random.key(config.seed), _UDR_STREAM)
  codes, kl = udr.encode(state, dataset, key, config.udr.num_points)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  saved = io.BytesIO()
  np.savez(saved, inputs=inputs, codes=np.asarray(codes), kl=np.asarray(kl))
  files.write_atomic(path, saved.getvalue())
  return codes, kl


def write_udr(config, dataset, workdir, finished: list[run_directory.Member]):
  """Writes `workdir/udr.json` for the `finished` members (`_udr_record`), unless it holds them
  at `config.udr` already; returns its content, or None below two models (a stale file goes)."""
  path = os.path.join(workdir, udr.RESULT_FILE)
  names = [os.path.basename(m.workdir) for m in finished]
  if len(finished) < 2:
    logging.info('UDR compares models: %d finished, none computed', len(finished))
    if os.path.exists(path):
      os.remove(path)
    return None
  udr_settings = config.udr.to_dict()
  if os.path.exists(path):
    saved = files.read_json(path, 'UDR scores')
    if saved.get('settings') == udr_settings and sorted(saved.get('order', [])) == sorted(names):
      return saved
  codes, kls = zip(*(_udr_codes(config, dataset, workdir, m) for m in finished))
  groups = [m.strength for m in finished] if config.udr.pairs == 'same_strength' else None
  result = udr.scores(codes, kls, config.udr.kl_threshold, config.udr.lasso_alpha, groups)
  record = _udr_record(names, result, udr_settings)
  files.write_json_atomic(path, record)
  logging.info('UDR of %d models in %s', len(finished), path)
  return record


def report_study(config, dataset, workdir):
  """The UDR (`write_udr`) and report of every finished member of the study `config` in
  `workdir`, whichever process or shard trained it; returns (rows, excluded), the members not
  finished yet among the excluded."""
  study = members(config, workdir)
  finished = [m for m in study if run_directory.is_complete(m.workdir, config.num_train_steps)]
  write_udr(config, dataset, workdir, finished)
  return report.write_report(workdir, expected=[m.workdir for m in study])


def run(config, workdir, dataset=None):
  """Trains and scores the sweep, writes its UDR (`write_udr`) and report; returns (rows,
  excluded).

  `config` is checked (every member: its strength listed, its seed in range) and its source
  opened here, before the directory is made, unless the caller did and hands `dataset` over.

  The sweep's directory is locked for the whole run: one sweep per workdir. With several
  processes (`vae.training.parallel`) each trains its part, and process 0 alone locks, reports and
  returns the rows; the others return None. With `config.shard` (`vae.studies.shards`) it claims
  the shard, trains the shard's members and returns None: `experiments.report` reports.
  """
  if dataset is None:
    dataset = settings.check_config(config)
  shard = shards.parse(config.get('shard', ''))
  if shard is not None:
    shards.train(workdir, shard, config, lambda: train_sweep(config, dataset, workdir, shard))
    return None
  if not parallel.writes_checkpoints():
    train_sweep(config, dataset, workdir)
    return None
  files.prepare_directory(workdir)
  lock = files.DirectoryLock(workdir)
  try:
    files.remove_temporaries(workdir, os.path.join(workdir, 'figures'))
    train_sweep(config, dataset, workdir)
    return report_study(config, dataset, workdir)
  finally:
    lock.release()
