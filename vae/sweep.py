"""The β sweep: |betas| × |seeds| models trained together (`vmap`), evaluated, then reported.

Model (β, s) is exactly the single run `--config.beta=β --config.seed=config.seed+s`: same keys,
same data stream, so a sweep row can be checked against a single run. Each model writes to
`workdir/runs/beta_<β>_seed_<s>/` what a single run writes to its workdir.
"""

import json
import os

from absl import logging

from vae import metric_writer
from vae import report
from vae import train
from vae.errors import UserInputError
from vae.evaluation import suite
from vae.report import FAILED_FILE


def parse_betas(betas) -> tuple[float, ...]:
  """'1,2,4' (the command-line form) or a sequence of numbers, as sorted unique floats."""
  items = betas.split(',') if isinstance(betas, str) else list(betas)
  try:
    values = [float(b) for b in items]
  except (TypeError, ValueError):
    raise UserInputError(
        f"--config.betas={betas!r} must be comma-separated numbers, e.g. '1,2,4,8,16'") from None
  if not values or min(values) < 0:
    raise UserInputError(f'--config.betas={betas!r} must list one or more β >= 0')
  return tuple(sorted(set(values)))


def run_dir(workdir, beta, seed_offset):
  return os.path.join(workdir, 'runs', f'beta_{beta:g}_seed_{seed_offset}')


def members(config, workdir) -> list[train.Member]:
  """One member per (β, seed), β-major."""
  if config.num_seeds <= 0:
    raise UserInputError(f'--config.num_seeds={config.num_seeds} must be a positive integer')
  return [train.Member(beta, config.seed + s, run_dir(workdir, beta, s))
          for beta in parse_betas(config.betas) for s in range(config.num_seeds)]


def is_finished(member: train.Member, num_train_steps) -> bool:
  """Trained to the end: its last eval row is at `num_train_steps`."""
  rows = metric_writer.read_metrics(member.workdir, split='eval')
  return bool(rows) and rows[-1]['step'] == num_train_steps


def has_failed(member: train.Member) -> bool:
  return os.path.exists(os.path.join(member.workdir, FAILED_FILE))


def train_sweep(config, workdir) -> list[train.Member]:
  """Trains every unfinished member, `models_per_step` at a time; returns the finished ones.

  A member whose loss goes non-finite is recorded in its `failed.txt` and left out; the others
  finish. Re-running skips finished and failed members and resumes the rest.
  """
  if config.models_per_step <= 0:
    raise UserInputError(
        f'--config.models_per_step={config.models_per_step} must be a positive integer')
  sweep = members(config, workdir)
  todo = [m for m in sweep if not has_failed(m) and not is_finished(m, config.num_train_steps)]
  logging.info('sweep of %d models: %d to train, %d finished or failed', len(sweep), len(todo),
               len(sweep) - len(todo))
  for start in range(0, len(todo), config.models_per_step):
    group = todo[start:start + config.models_per_step]
    logging.info('training models %d-%d of %d', start + 1, start + len(group), len(todo))
    for member, result in zip(group, train.train_members(config, group)):
      if result.failure:
        with open(os.path.join(member.workdir, FAILED_FILE), 'w') as f:
          f.write(result.failure + '\n')
  return [m for m in sweep if not has_failed(m)]


def _needs_scores(member: train.Member, num_train_steps) -> bool:
  path = os.path.join(member.workdir, suite.RESULT_FILE)
  if not os.path.exists(path):
    return True
  with open(path) as f:
    return json.load(f)['step'] != num_train_steps


def run(config, workdir):
  """Trains the sweep, scores every finished model, writes the report; returns (rows, excluded)."""
  finished = train_sweep(config, workdir)
  to_score = [m for m in finished if _needs_scores(m, config.num_train_steps)]
  for i, member in enumerate(to_score):
    logging.info('disentanglement suite %d/%d: %s', i + 1, len(to_score), member.workdir)
    suite.evaluate_run(member.workdir, config.disentanglement)
  return report.write_report(workdir)
