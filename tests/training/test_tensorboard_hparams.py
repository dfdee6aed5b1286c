"""What TensorBoard's HParams dashboard shows of a single run, a sweep and a method comparison.

The runs are fabricated (a config, rows and scores: no training), and read back with TensorBoard's
own hparams backend (`backend_context.Context` over a `plugin_event_multiplexer` loaded as
`tensorboard --logdir` loads it, and the `get_experiment` and `list_session_groups` handlers the
dashboard calls), never with the writer's code. What the dashboard ticks by default is its own
rule (tf-hparams-query-pane in tensorboard/webfiles.zip): the first five hparams once the differing
ones are put first, and the first five metrics.
"""

import json
import os

import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import backend_context
from tensorboard.plugins.hparams import get_experiment
from tensorboard.plugins.hparams import list_session_groups

from vae import methods
from vae.studies import trials
from vae.training import hparams
from vae.training import metric_writer

SCORES = ('discrete_mig', 'factor_vae_eval_accuracy', 'beta_vae_eval_accuracy', 'disentanglement',
          'sap_score', 'modularity_score', 'irs', 'completeness')
# The summary's order (vae.studies.score_families.HEADLINE), recon first: five are ticked.
HEADLINE = ['eval/recon',
            *(f'disentanglement/mean/{s}' for s in ('beta_vae_eval_accuracy',
                                                    'factor_vae_eval_accuracy', 'discrete_mig',
                                                    'disentanglement', 'sap_score',
                                                    'modularity_score', 'irs')),
            'eval/kl', 'eval/elbo', 'eval/log_px']
SETTINGS = ['method', 'strength', 'seed', 'model', 'latents', 'likelihood', 'learning_rate',
            'batch_size', 'num_train_steps']
_STEPS = 4


def _recon(strength, seed):
  return 100.0 + strength + seed / 10  # Tells every model apart.


def _finished_run(run_dir, strength, seed, method='beta_vae', learning_rate=5e-4):
  """A finished run's saved files as training leaves them (config, rows, scores), events
  rebuilt."""
  os.makedirs(run_dir)
  config = {'method': method, 'model': 'conv', 'latents': 4, 'likelihood': 'bernoulli',
            'learning_rate': learning_rate, 'batch_size': 8, 'num_train_steps': _STEPS,
            'seed': seed, methods.strength_setting(method): strength}
  with open(os.path.join(run_dir, 'config.json'), 'w') as f:
    json.dump(config, f)
  writer = metric_writer.MetricWriter(run_dir, resume_step=0)
  recon = _recon(strength, seed)
  writer.write(_STEPS, 'train', {'loss': recon + 1, 'recon': recon + 1, 'kl': 1.0})
  writer.write(_STEPS, 'eval', {'loss': recon + strength, 'recon': recon, 'kl': 1.0,
                                'elbo': -recon - 1, 'log_px': -recon, 'kl_per_dim/0': 1.0})
  writer.close()
  scores = {s: (strength + seed + i) / 100 for i, s in enumerate(SCORES)}
  with open(os.path.join(run_dir, 'eval_disentanglement.json'), 'w') as f:
    json.dump({'step': _STEPS, 'mean': scores}, f)
  metric_writer.rebuild_events(run_dir)  # As the run's final evaluation does.
  return run_dir


def _sweep(workdir, strengths, seeds, method='beta_vae', **settings):
  return [_finished_run(os.path.join(workdir, 'runs', f'{method}_{v}_seed_{s}'), v, s, method,
                        **settings)
          for v in strengths for s in seeds]


def _dashboard(logdir):
  """(hparams as [(display name, differs)] in TensorBoard's order, metric tags in order,
  {trial name: (sessions, {hparam: value}, {metric: value})}), as TensorBoard serves them."""
  events = plugin_event_multiplexer.EventMultiplexer()
  events.AddRunsFromDirectory(logdir)  # As `tensorboard --logdir` loads it.
  events.Reload()
  backend = backend_context.Context(base_plugin.TBContext(
      logdir=logdir, multiplexer=events,
      data_provider=data_provider.MultiplexerDataProvider(events, logdir)))
  request = context.RequestContext()
  experiment = get_experiment.Handler(request, backend, '', api_pb2.GetExperimentRequest()).run()
  names = {h.name: h.display_name for h in experiment.hparam_infos}
  groups = list_session_groups.Handler(request, backend, '', api_pb2.ListSessionGroupsRequest(
      allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS], slice_size=100)).run()
  by_name = {g.name: ([s.name for s in g.sessions],
                      {names[k]: v.string_value or v.number_value
                       for k, v in g.hparams.items() if k in names},
                      {m.name.tag: m.value for m in g.metric_values})
             for g in groups.session_groups}
  return ([(h.display_name, h.differs) for h in experiment.hparam_infos],
          [m.name.tag for m in experiment.metric_infos], by_name)


def _ticked(columns, metrics):
  """What the dashboard shows without a click: its first five hparams and metrics."""
  return [name for name, _ in columns][:5], metrics[:5]


def test_a_single_run_lists_its_settings_method_strength_and_seed_first(tmp_path):
  run_dir = _finished_run(str(tmp_path / 'run'), 4.0, 0)
  columns, metrics, shown = _dashboard(run_dir)
  assert columns == [(name, False) for name in SETTINGS]  # One model: nothing differs.
  assert metrics[:len(HEADLINE)] == HEADLINE
  assert _ticked(columns, metrics) == (SETTINGS[:5], HEADLINE[:5])
  assert 'disentanglement/mean/completeness' in metrics  # Every other tag, unticked.
  assert not any('kl_per_dim' in m or m.startswith('train/') for m in metrics)
  sessions, values, scores = shown['beta_vae β=4 s0']
  assert sessions == ['.']
  assert values['strength'] == 4.0 and values['learning_rate'] == 5e-4
  assert scores['eval/recon'] == pytest.approx(_recon(4.0, 0))


def test_a_sweep_shows_strength_and_seed_and_the_headline_scores(tmp_path):
  workdir = str(tmp_path / 'sweep')
  run_dirs = _sweep(workdir, (1.0, 8.0), (0, 1))
  udr = {d: {'udr': 0.5 + i / 10} for i, d in enumerate(run_dirs)}
  trials.write_study_hparams(os.path.join(workdir, 'runs'), run_dirs, scores=udr)
  columns, metrics, shown = _dashboard(os.path.join(workdir, 'runs'))
  assert columns == [('strength', True), ('seed', True)]  # The constant settings are absent.
  assert metrics[:len(HEADLINE) + 1] == HEADLINE + ['study/udr']
  assert _ticked(columns, metrics) == (['strength', 'seed'], HEADLINE[:5])
  assert sorted(shown) == ['β=1 s0', 'β=1 s1', 'β=8 s0', 'β=8 s1']
  for i, run_dir in enumerate(run_dirs):
    strength, seed = (1.0, 8.0)[i // 2], i % 2
    sessions, values, scores = shown[f'β={strength:g} s{seed}']
    assert sessions == [os.path.basename(run_dir)]  # Each model its own trial.
    assert (values['strength'], values['seed']) == (strength, seed)
    assert scores['eval/recon'] == pytest.approx(_recon(strength, seed))
    assert scores['disentanglement/mean/irs'] == pytest.approx((strength + seed + 6) / 100)
    assert scores['study/udr'] == pytest.approx(0.5 + i / 10)


def _hparams_files(directory):
  return [n for n in os.listdir(directory) if n.endswith(hparams.SUFFIX)]


def test_writing_a_study_again_replaces_its_files(tmp_path):
  workdir = str(tmp_path / 'sweep')
  logdir = os.path.join(workdir, 'runs')
  run_dirs = _sweep(workdir, (1.0, 8.0), (0,))
  trials.write_study_hparams(logdir, run_dirs)
  before = _dashboard(logdir)
  metric_writer.rebuild_events(run_dirs[0])  # A re-scored member has its own HParams back...
  assert _dashboard(logdir)[2].keys() == {'beta_vae β=1 s0', 'β=8 s0'}
  trials.write_study_hparams(logdir, run_dirs)  # ...until the study is written again.
  assert _dashboard(logdir) == before
  for directory in (logdir, *run_dirs):
    assert len(_hparams_files(directory)) == 1
  scalar_files = [n for n in os.listdir(run_dirs[0]) if n.endswith(metric_writer.REBUILT_SUFFIX)]
  assert len(scalar_files) == 1  # The study leaves the run's scalars alone.


def test_a_comparison_lists_the_method_first_over_each_sweeps_own_view(tmp_path):
  workdir = str(tmp_path / 'compare')
  entries = {'beta_vae': _sweep(os.path.join(workdir, 'beta_vae'), (1.0, 4.0), (0,)),
             'beta_tcvae': _sweep(os.path.join(workdir, 'beta_tcvae'), (1.0,), (0,), 'beta_tcvae'),
             'beta_vae_fast': _sweep(os.path.join(workdir, 'beta_vae_fast'), (1.0,), (0,),
                                     learning_rate=1e-3)}  # A variant of beta_vae.
  for entry, run_dirs in entries.items():  # Each entry's sweep writes its own view first.
    trials.write_study_hparams(os.path.join(workdir, entry, 'runs'), run_dirs)
  run_dirs = [d for dirs in entries.values() for d in dirs]
  trials.write_study_hparams(workdir, run_dirs, trial=('method', 'strength', 'seed'),
                             columns={d: {'method': e} for e, dirs in entries.items()
                                      for d in dirs})
  columns, metrics, shown = _dashboard(workdir)
  assert columns == [('method', True), ('strength', True), ('learning_rate', True)]
  assert metrics[:len(HEADLINE)] == HEADLINE
  assert sorted(shown) == ['beta_tcvae β=1 s0', 'beta_vae β=1 s0', 'beta_vae β=4 s0',
                           'beta_vae_fast β=1 s0']
  sessions, values, scores = shown['beta_vae_fast β=1 s0']
  assert sessions == ['beta_vae_fast/runs/beta_vae_1.0_seed_0']
  assert values['method'] == 'beta_vae_fast' and values['learning_rate'] == 1e-3


def test_models_a_study_would_name_alike_keep_their_own_trials():
  models = [{'method': 'beta_vae', 'strength': 1.0, 'seed': 0},
            {'method': 'beta_tcvae', 'strength': 1.0, 'seed': 0},
            {'method': 'beta_vae', 'strength': 4.0, 'seed': 0}]
  # Without the method two models share a name: both go unnamed, TensorBoard names them by run.
  assert trials.group_names(models, ('strength', 'seed'), ['β'] * 3) == ['', '', 'β=4 s0']
