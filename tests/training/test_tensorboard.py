"""What `tensorboard --logdir` shows of a sweep, read back with TensorBoard's own readers.

Run names, the scores as scalars, the images of each evaluation and the HParams plugin's data are
loaded with `EventMultiplexer` and parsed with the hparams plugin's `metadata`, never with the
writer's code; a killed and resumed run shows each (tag, step) once.
"""

import errno
import io
import json
import os
import re
import threading

import pytest
from tensorboard.backend.event_processing import event_multiplexer
from tensorboard.plugins.hparams import metadata

from experiments import cli
from experiments.configs import sweep_test
from experiments.configs import test as test_config
from tests import run_files
from vae.studies import sweep
from vae.training import event_file
from vae.training import hparams
from vae.training import loop
from vae.training.metric_writer import MetricWriter
from vae.training.metric_writer import read_metrics

_STRENGTHS = (1, 8)  # sweep_test's betas.


def _multiplexer(logdir):
  events = event_multiplexer.EventMultiplexer(size_guidance={'scalars': 0, 'images': 0,
                                                             'tensors': 0})
  events.AddRunsFromDirectory(str(logdir))
  events.Reload()
  return events


@pytest.fixture(scope='module')
def finished_sweep(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('sweep'))
  config = sweep_test.get_config()
  sweep.run(config, workdir)
  return config, workdir, _multiplexer(os.path.join(workdir, 'runs'))


@pytest.mark.slow  # The sweep fixture: about 2.5 min on the shared 2-core CPU.
def test_runs_are_named_by_method_strength_and_seed(finished_sweep):
  _, _, events = finished_sweep
  # '.': the sweep's own HParams experiment (`vae.studies.trials`), at the logdir.
  assert sorted(events.Runs()) == ['.'] + [f'beta_vae_{s}_seed_0' for s in _STRENGTHS]


@pytest.mark.slow  # The sweep fixture: about 2.5 min on the shared 2-core CPU.
def test_every_score_is_a_scalar_at_the_final_step(finished_sweep):
  config, workdir, events = finished_sweep
  for strength in _STRENGTHS:
    name = f'beta_vae_{strength}_seed_0'
    with open(os.path.join(workdir, 'runs', name, 'eval_disentanglement.json')) as f:
      results = json.load(f)
    tags = events.Runs()[name]['scalars']
    assert 'eval/log_px' in tags
    for group in ('mean', 'sampled'):
      assert results[group]
      for key, value in results[group].items():
        (point,) = events.Scalars(name, f'disentanglement/{group}/{key}')
        assert point.step == config.num_train_steps
        assert point.value == pytest.approx(value, rel=2**-23)  # float32 of the saved score.


@pytest.mark.slow  # The sweep fixture: about 2.5 min on the shared 2-core CPU.
def test_images_exist_at_each_evaluation(finished_sweep):
  config, _, events = finished_sweep
  eval_steps = list(range(config.eval_every_steps, config.num_train_steps + 1,
                          config.eval_every_steps))
  for run in set(events.Runs()) - {'.'}:
    for name in ('reconstructions', 'samples', 'traversals'):
      assert [e.step for e in events.Images(run, f'images/{name}')] == eval_steps


@pytest.mark.slow  # The sweep fixture: about 2.5 min on the shared 2-core CPU.
def test_hparams_list_the_settings_and_every_metric(finished_sweep):
  _, workdir, events = finished_sweep
  content = events.PluginRunToTagToContent(metadata.PLUGIN_NAME)
  runs = sorted(set(events.Runs()) - {'.'})
  assert sorted(content) == ['.'] + runs  # The sweep's experiment at the logdir, a session each.
  experiment = metadata.parse_experiment_plugin_data(content['.'][metadata.EXPERIMENT_TAG])
  assert [h.display_name for h in experiment.hparam_infos] == ['strength']  # One seed.
  metrics = [m.name.tag for m in experiment.metric_infos]
  # recon, then the headline scores the test config computes, then the ELBO's other terms.
  assert metrics[:5] == ['eval/recon', 'disentanglement/mean/beta_vae_eval_accuracy',
                         'disentanglement/mean/factor_vae_eval_accuracy',
                         'disentanglement/mean/discrete_mig', 'disentanglement/mean/disentanglement']
  assert metrics.index('eval/kl') < metrics.index('eval/elbo') < metrics.index('eval/log_px')
  for run in runs:
    start = metadata.parse_session_start_info_plugin_data(
        content[run][metadata.SESSION_START_INFO_TAG])
    assert start.group_name == f"β={run.split('_')[2]} s0"
    values = start.hparams
    assert values[hparams.name('method')].string_value == 'beta_vae'
    assert values[hparams.name('strength')].number_value == float(run.split('_')[2])
    assert values[hparams.name('seed')].number_value == 0
    for setting in ('model', 'latents', 'learning_rate', 'batch_size', 'num_train_steps',
                    'likelihood'):
      assert hparams.name(setting) in values
    with open(os.path.join(workdir, 'runs', run, 'eval_disentanglement.json')) as f:
      results = json.load(f)
    assert {f'disentanglement/mean/{k}' for k in results['mean']} <= set(metrics)
    assert set(metrics) <= set(events.Runs()[run]['scalars'])  # Every metric has its values.


@pytest.mark.parametrize('kill', [6, 12])
def test_a_resumed_run_shows_each_point_once(tmp_path, monkeypatch, kill):
  workdir = str(tmp_path / 'run')
  config = test_config.get_config()
  with run_files.kill_at(kill, monkeypatch):
    with pytest.raises(run_files.Killed):
      loop.train_and_evaluate(config, workdir)
  loop.train_and_evaluate(config, workdir)
  events = _multiplexer(tmp_path)
  assert list(events.Runs()) == ['run']  # The events lie in the run directory itself.
  tags = events.Runs()['run']
  scalars = [(tag, e.step) for tag in tags['scalars'] for e in events.Scalars('run', tag)]
  assert len(scalars) == len(set(scalars))
  expected = {(f"{r['split']}/{k}", r['step']) for r in read_metrics(workdir)
              for k in r if k not in ('step', 'split')}
  assert set(scalars) == expected
  for name in ('reconstructions', 'samples', 'traversals'):
    assert [e.step for e in events.Images('run', f'images/{name}')] == [2, 4]


@pytest.fixture
def disk(monkeypatch):
  """A disk for the event files that fills up when told, as the kernel's: `disk['full'] = True`
  makes every later write fail with ENOSPC, and `disk['most']` cuts each write short to that
  many bytes (a write that reaches a limit is short)."""
  state = {'full': False, 'most': None}

  class File(io.FileIO):

    def write(self, data):
      if state['full']:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
      return super().write(data[:state['most']])

  monkeypatch.setattr(event_file, 'open', lambda path, mode, buffering: File(path, 'w'),
                      raising=False)
  return state


def _points(workdir):
  events = _multiplexer(os.path.dirname(workdir))
  run = os.path.basename(workdir)
  return sorted((tag, e.step, e.value) for tag in events.Runs()[run]['scalars']
                for e in events.Scalars(run, tag))


def test_a_full_disk_fails_the_tensorboard_write_in_one_line_and_loses_no_row(tmp_path, disk,
                                                                              restored_signals):
  workdir = str(tmp_path / 'run')
  os.makedirs(workdir)
  threads = threading.active_count()
  writer = MetricWriter(workdir, resume_step=0)
  writer.write(1, 'train', {'loss': 3.0})
  assert threading.active_count() == threads  # No background writer to die or hang.
  disk['full'] = True
  with pytest.raises(SystemExit) as failure:  # As an entry point ends.
    cli.run(writer.write, 2, 'train', {'loss': 2.0})
  writer.close()  # Nothing is left to write, so closing cannot fail again.
  assert re.fullmatch(rf'error: cannot write {re.escape(workdir)}/events\.out\.tfevents\.[0-9.]+: '
                      r'No space left on device \([0-9,]+ bytes free\)', failure.value.code)
  assert [r['loss'] for r in read_metrics(workdir)] == [3.0, 2.0]  # The record came first.
  # The rebuild at the next open fails too, and leaves the record and the old view in place.
  before = sorted(os.listdir(workdir))
  with pytest.raises(OSError) as failure:
    MetricWriter(workdir, resume_step=2)
  assert failure.value.filename.endswith('.rebuilt')
  assert sorted(os.listdir(workdir)) == before
  assert [r['loss'] for r in read_metrics(workdir)] == [3.0, 2.0]
  # With room again, the rebuild shows every row of the record.
  disk['full'] = False
  MetricWriter(workdir, resume_step=2).close()
  assert _points(workdir) == [('train/loss', 1, 3.0), ('train/loss', 2, 2.0)]


def test_events_cut_into_short_writes_read_back_whole(tmp_path, disk):
  workdir = str(tmp_path / 'run')
  os.makedirs(workdir)
  disk['most'] = 5
  writer = MetricWriter(workdir, resume_step=0)
  for step in (1, 2, 3):
    writer.write(step, 'eval', {'recon': 10.0 / step, 'kl': float(step)})
  writer.close()
  assert _points(workdir) == sorted([('eval/recon', s, pytest.approx(10.0 / s)) for s in (1, 2, 3)]
                                    + [('eval/kl', s, s) for s in (1, 2, 3)])
