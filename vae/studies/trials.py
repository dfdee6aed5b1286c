"""A study's models as the trials of TensorBoard's HParams dashboard.

Which settings vary is known only once a study's members are: each run's own HParams
(`vae.training.hparams`) list all its settings under a name of its method, strength and seed.
`write_study_hparams` gives the study its own view: in the logdir that researchers open (a sweep's
`runs/`, a comparison's workdir), an experiment of the settings that vary across the members
(method, strength and seed first: `hparams.COLUMNS`), against the headline metrics first; in each member's directory, its session
named by its trial columns (`β=4 s0`, or `beta_tcvae β=4 s0` in a comparison) and the study's own
scores of it (a sweep's UDR) as `study/<score>` scalars. TensorBoard loads a logdir top-down, so
the logdir's experiment is the one it uses, over those of the members and, in a comparison, of
each entry's sweep. Each file is written whole and replaces the one before; a member re-opened
since (a resumed or re-scored run) has its own HParams back until the study is written again.
"""

import os

from tensorboardX import summary

from vae import files
from vae.training import hparams
from vae.training import metric_writer


def _config(run_dir):
  return files.read_json(os.path.join(run_dir, metric_writer.CONFIG_FILE), 'the run config')


def _last_step(rows):
  return max((r['step'] for r in rows), default=0)


def group_names(trials, trial, symbols):
  """Each trial's name from its `trial` columns; a name two trials share is left empty, so that
  TensorBoard names both by their run paths and never merges two models into one trial."""
  names = [hparams.trial_name(t, trial, s) for t, s in zip(trials, symbols)]
  return [n if names.count(n) == 1 else '' for n in names]


def write_study_hparams(logdir, run_dirs, trial=hparams.SWEEP_TRIAL, columns=None, scores=None):
  """Writes the HParams of the study of the models in `run_dirs` for `tensorboard
  --logdir=<logdir>` (a directory above them).

  `trial`: the columns that tell the models apart and name them (a sweep's strength and seed; a
  comparison's method too). `columns`: {run_dir: {column: value}}, the study's own values that
  replace a model's (a comparison's entry as its `method`). `scores`: {run_dir: {score: value}},
  the study's scores of a model (a sweep's `udr`), shown as the metrics `study/<score>`.
  """
  columns, scores = columns or {}, scores or {}
  configs = [_config(d) for d in run_dirs]
  trials = [{**hparams.columns_of(c), **columns.get(d, {})} for c, d in zip(configs, run_dirs)]
  rows = [metric_writer.read_metrics(d) + metric_writer.score_rows(d) for d in run_dirs]
  names = group_names(trials, trial, [hparams.symbol_of(c) for c in configs])
  tags = set()
  for run_dir, row, values, name in zip(run_dirs, rows, trials, names):
    own = {f'{hparams.STUDY_GROUP}/{k}': v for k, v in scores.get(run_dir, {}).items()
           if v is not None}
    tags |= metric_writer.tags(row) | set(own)
    hparams.write(run_dir, [hparams.session(values, name),
                            *(summary.scalar(t, float(v)) for t, v in own.items())],
                  step=_last_step(row))
  own_tags = sorted(t for t in tags if t.startswith(f'{hparams.STUDY_GROUP}/'))
  metrics = hparams.metric_tags(tags, (*hparams.HEADLINE, *own_tags))  # UDR after the headline.
  hparams.write(logdir, [hparams.experiment(trials, hparams.varying(trials, trial), metrics)])
