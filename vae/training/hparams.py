"""What TensorBoard's HParams dashboard shows of models: one trial (a table row) per model.

A directory's HParams are one event file of their own (`*.hparams`), written whole and replacing
the one before, so a re-run never duplicates them. A run's holds its session start info (its
settings and its trial's name) and the experiment of the run alone (the columns and metrics the
dashboard lists); `vae.training.metric_writer` writes it whenever it rebuilds the run's events. A
study (`vae.studies.trials`) replaces each member's by its session under the study's trial name,
and writes the study's experiment in the directory that `tensorboard --logdir` opens.

What TensorBoard 2.21 does with them (tensorboard/plugins/hparams/backend_context.py,
list_session_groups.py, and the dashboard's tf-hparams-query-pane in webfiles.zip):
- it uses the experiment of the first run that holds one, in load order (a logdir is loaded
  top-down, so the logdir's own file comes first), and computes one from the sessions only when
  no run holds one;
- it orders the experiment's hparams by (not `differs`, name) and ticks the first five, and ticks
  the first five metrics in the experiment's order;
- a trial is named by its session's `group_name`, or by its run's path without one, and sessions
  of one `group_name` are one trial (their metrics averaged);
- it keeps the first session start info and experiment it reads of a run, so a TensorBoard
  started before a study was written shows the study after a restart.
Hence each column's name starts with its rank (its display name is the setting's), a column is
flagged `differs` only when its values differ, and the headline metrics come first.
"""

import os

from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboardX.proto import summary_pb2

from vae import methods
from vae.methods.method import strength_label
from vae.studies import score_families
from vae.training import event_file

SUFFIX = '.hparams'
# The settings that define a model, in the dashboard's order: what sweeps and comparisons vary
# first.
COLUMNS = ('method', 'strength', 'seed', 'model', 'latents', 'likelihood', 'learning_rate',
           'batch_size', 'num_train_steps')
# The columns that name a model of its own (a single run) and of a sweep (one method).
RUN_TRIAL = ('method', 'strength', 'seed')
SWEEP_TRIAL = ('strength', 'seed')
# The headline measurements, in the dashboard's order (it ticks the first five): recon, then the
# suite's headline scores of the mean codes in the summary's order, then the ELBO's other terms.
# Chen's MIG (a whole-grid quantity) and UDR (a study's score: `study/udr`) are tagged elsewhere.
HEADLINE = ('eval/recon',
            *(f'disentanglement/mean/{score}' for score in score_families.HEADLINE_SCORES
              if score not in ('chen_mig', 'udr')),
            'eval/kl', 'eval/elbo', 'eval/log_px')
STUDY_GROUP = 'study'  # The scalars of a study's own scores of a model: `study/<score>`.


def name(column):
  """The hparam's name of `column`: its rank first, as TensorBoard orders hparams by name."""
  return f'{COLUMNS.index(column):02d}_{column}'


def columns_of(config):
  """{column: value} of the saved config `config` (a dict): its settings and its strength."""
  columns = {c: config[c] for c in COLUMNS if config.get(c) is not None}
  setting = methods.strength_setting(config.get('method', 'beta_vae'))
  if setting and config.get(setting) is not None:
    columns['strength'] = float(config[setting])
  return columns


def trial_name(columns, trial, symbol=None):
  """The short name of a model's trial: its values of the `trial` columns, e.g. `β=4 s0`."""

  def part(column):
    value = columns[column]
    if column == 'strength':
      return f'{symbol or "strength"}={strength_label(value)}'
    return f's{value}' if column == 'seed' else str(value)

  return ' '.join(part(c) for c in trial if c in columns)


def symbol_of(config):
  """How the strength of the model saved with `config` is written (β, γ, λ_od, C_max)."""
  strength = methods.get(config.get('method', 'beta_vae')).strength
  return strength.symbol if strength else None


def metric_tags(tags, headline=HEADLINE):
  """`tags` (eval and score tags) in the dashboard's order: the `headline` ones, then the
  others by name."""
  tags = set(tags)
  return [t for t in headline if t in tags] + sorted(tags - set(headline))


def _value(value, proto):
  if isinstance(value, str):
    proto.string_value = value
  elif isinstance(value, bool):
    proto.bool_value = value
  else:
    proto.number_value = float(value)


def _summary(tag, data):
  """A summary holding the HParams plugin's `data` under `tag` (tensorboardX's proto, which the
  event file writes, holding TensorBoard's metadata)."""
  raw = metadata.create_summary_metadata(data).SerializeToString()
  return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
      tag=tag, metadata=summary_pb2.SummaryMetadata.FromString(raw))])


def session(columns, group_name):
  """The session start info of a model with `columns`, in trial `group_name`."""
  info = plugin_data_pb2.SessionStartInfo(group_name=group_name)
  for column, value in columns.items():
    _value(value, info.hparams[name(column)])
  return _summary(metadata.SESSION_START_INFO_TAG,
                  plugin_data_pb2.HParamsPluginData(session_start_info=info))


def _hparam_info(column, values):
  """The HParamInfo of `column` over the trials' `values`: its type, domain and `differs`."""
  info = api_pb2.HParamInfo(name=name(column), display_name=column,
                            differs=len(set(values)) > 1)
  if all(isinstance(v, str) for v in values):
    info.type = api_pb2.DATA_TYPE_STRING
    info.domain_discrete.extend(sorted(set(values)))
  elif all(isinstance(v, bool) for v in values):
    info.type = api_pb2.DATA_TYPE_BOOL
    info.domain_discrete.extend(sorted(set(values)))
  else:
    info.type = api_pb2.DATA_TYPE_FLOAT64
    info.domain_interval.min_value = float(min(values))
    info.domain_interval.max_value = float(max(values))
  return info


def experiment(trials, shown, tags):
  """The experiment of `trials` ([{column: value}]): the `shown` columns against the metrics
  `tags`, in their order."""
  infos = [_hparam_info(c, [t[c] for t in trials if c in t]) for c in COLUMNS if c in shown]
  metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=t), display_name=t.split('/')[-1])
             for t in tags]
  return _summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(
      experiment=api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)))


def varying(trials, trial):
  """The columns whose values differ between `trials`; the `trial` columns when none does (a
  study of one model)."""
  shown = [c for c in COLUMNS if len({repr(t.get(c)) for t in trials}) > 1]
  return shown or list(trial)


def _files(directory):
  return [n for n in os.listdir(directory)
          if n.startswith(event_file.PREFIX) and n.endswith(SUFFIX)]


def write(directory, summaries, step=0):
  """Replaces the HParams file of `directory` by one holding `summaries` at `step` (the
  Summary protos of `session`, `experiment` or scalars)."""
  path = event_file.new_path(directory, SUFFIX)

  def add_events(events):
    for summary in summaries:
      events.add(summary, step)

  event_file.write_whole(path, add_events)
  for old in _files(directory):
    if old != os.path.basename(path):
      os.remove(os.path.join(directory, old))


def write_run(workdir, config, tags):
  """The HParams of the run in `workdir` alone: its session, named by its method, strength and
  seed, and an experiment of its settings against `tags`."""
  columns = columns_of(config)
  write(workdir, [session(columns, trial_name(columns, RUN_TRIAL, symbol_of(config))),
                  experiment([columns], COLUMNS, metric_tags(tags))])
