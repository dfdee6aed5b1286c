"""The β sweep: vmapped models equal single runs, every output file, report, resume, failures."""

import filecmp
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from experiments.configs import sweep_test
from tests import ROOT
from tests import figure_legibility
from vae import data
from vae import settings
from vae import traversal_animation as ta
from vae.errors import UserInputError
from vae.studies import report
from vae.studies import sweep
from vae.training import loop
from vae.training import run_directory
from vae.training.metric_writer import read_metrics



@pytest.fixture(scope='module')
def finished_sweep(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('sweep'))
  config = sweep_test.get_config()
  with pytest.MonkeyPatch.context() as monkeypatch:
    with figure_legibility.recording(monkeypatch) as found:
      rows, excluded = sweep.run(config, workdir)
  _FIGURES.update(found)
  return config, workdir, rows, excluded


# {path: legibility problems} of every figure the finished sweep saved, its models' and its own.
_FIGURES = {}


def test_parse_betas():
  assert settings.parse_betas('4,1,2') == (1.0, 2.0, 4.0)
  assert settings.parse_betas((16, 1)) == (1.0, 16.0)
  for bad in ('', '1,x', '-1,2'):
    with pytest.raises(UserInputError, match='--config.betas='):
      settings.parse_betas(bad)


def test_vmapped_models_equal_single_runs(finished_sweep, tmp_path):
  config, workdir, _, _ = finished_sweep
  for beta in (1.0, 8.0):
    single = sweep_test.get_config()
    single.beta = beta
    single_dir = str(tmp_path / f'single_{beta:g}')
    loop.train_and_evaluate(single, single_dir)
    vmapped = read_metrics(sweep.run_dir(workdir, 'beta_vae', beta, 0))
    alone = read_metrics(single_dir)
    assert [(r['step'], r['split']) for r in vmapped] == [(r['step'], r['split']) for r in alone]
    for a, b in zip(vmapped, alone):
      # loss, recon, elbo (~2,830 nats) are per-image sums of 4,096 same-sign pixel terms:
      # reordered, sqrt(4096)·u ≈ 4e-6 relative; rtol 1e-5 still sees a wrong ε key (2e-5).
      for name in ('loss', 'recon', 'elbo'):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, err_msg=f'{beta} {name}')
      # KL (~0.005 nats) is ½Σ(μ² + expm1(logvar) − logvar), which cancels ~2/|logvar| ≈ 40x on
      # top of the encoder's 1,024-term sums: up to ~1e-4 (8e-7 seen); a wrong batch or key: >20%.
      np.testing.assert_allclose(a['kl'], b['kl'], rtol=2e-4, err_msg=f'{beta} kl')


def test_every_output_file(finished_sweep):
  config, workdir, rows, excluded = finished_sweep
  assert not excluded
  assert [(r['beta'], r['seed']) for r in rows] == [(1.0, 0), (8.0, 0)]
  for beta in (1, 8):
    run = sweep.run_dir(workdir, 'beta_vae', beta, 0)
    for name in ('metrics.jsonl', 'config.json', 'eval_disentanglement.json', 'factor_latent.md',
                 'figures/reconstructions.png', 'figures/samples.png', 'figures/traversals.png',
                 'figures/factor_latent.png',
                 *(f'figures/{ta.file_name(mode)}' for mode in ta.MODES)):
      assert os.path.getsize(os.path.join(run, name)) > 0, name
    assert os.listdir(os.path.join(run, 'checkpoints'))
    with open(os.path.join(run, 'eval_disentanglement.json')) as f:
      scores = json.load(f)
    assert scores['step'] == config.num_train_steps
    likelihood = scores['likelihood']
    assert likelihood['elbo_gap'] == pytest.approx(likelihood['log_px'] - likelihood['elbo'])
    for representation in ('mean', 'sampled'):
      assert 0 <= scores[representation]['discrete_mig'] <= 1
  for name in ('summary.csv', 'summary_by_strength.csv', 'summary.json', 'summary.md',
               'figures/strength_tradeoff.png', 'figures/kl_per_latent.png',
               'figures/traversals_by_strength.png', 'figures/factor_latent_by_strength.png',
               'figures/strength_tradeoff_all.png',
               'figures/seed_variation.png'):
    assert os.path.getsize(os.path.join(workdir, name)) > 0, name
  with open(os.path.join(workdir, 'summary.csv')) as f:
    header = f.readline().strip().split(',')
  assert header[:10] == ['method', 'strength', 'beta', 'seed', 'recon', 'kl', 'elbo', 'log_px',
                         'elbo_gap', 'active_latents']
  assert 'discrete_mig' in header and 'factor_vae_eval_accuracy' in header
  with open(os.path.join(workdir, 'summary.json')) as f:
    summary = json.load(f)
  assert [r['beta'] for r in summary['rows']] == [1.0, 8.0]
  mig = summary['scores']['discrete_mig']
  assert set(mig['by_strength']) == {'1', '8'} and mig['by_strength']['1']['n'] == 1
  assert mig['best']['p_value'] is None  # One seed per β: nothing to test.
  with open(os.path.join(workdir, 'summary.md')) as f:
    text = f.read()
  assert 'no comparison between strengths can be made' in text
  assert '## Which latents carry which factor' in text


def test_every_figure_reads_at_its_saved_size(finished_sweep):
  del finished_sweep  # It records the figures it saves.
  saved = {os.path.basename(p) for p in _FIGURES}
  assert {'strength_tradeoff.png', 'strength_tradeoff_all.png', 'factor_latent_by_strength.png',
          'traversals_by_strength.png', 'kl_per_latent.png', 'factor_latent.png',
          'traversals.png', 'reconstructions.png'} <= saved
  assert {p: problems for p, problems in _FIGURES.items() if problems} == {}


def test_the_sweeps_animation_has_one_panel_per_strength(finished_sweep):
  _, workdir, _, _ = finished_sweep
  combined = ta.read_frames(os.path.join(workdir, 'figures', 'traversals_by_strength.gif'))
  panels = [ta.read_frames(os.path.join(sweep.run_dir(workdir, 'beta_vae', beta, 0), 'figures',
                                        ta.file_name(ta.SWEEP_MODE))) for beta in (1, 8)]
  assert combined.shape == (ta.NUM_FRAMES, ta.LABEL_HEIGHT + panels[0].shape[1],
                            sum(p.shape[2] for p in panels) + ta.PANEL_GAP, 3)
  left = 0
  for panel in panels:  # β = 1 then β = 8, each model's own GIF under its label
    width = panel.shape[2]
    np.testing.assert_array_equal(combined[:, ta.LABEL_HEIGHT:, left:left + width], panel)
    assert (combined[:, :ta.LABEL_HEIGHT, left:left + width] < 255).any()
    left += width + ta.PANEL_GAP


def test_report_rebuilds_the_summary_byte_for_byte(finished_sweep, tmp_path):
  _, workdir, _, _ = finished_sweep
  copy = str(tmp_path / 'copy')
  shutil.copytree(workdir, copy)
  for name in ('summary.csv', 'summary_by_strength.csv', 'summary.json', 'summary.md'):
    os.remove(os.path.join(copy, name))
  result = subprocess.run([sys.executable, '-m', 'experiments.report', f'--workdir={copy}'],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert '# beta_vae sweep: which β disentangles best' in result.stdout
  for name in ('summary.csv', 'summary_by_strength.csv', 'summary.json', 'summary.md'):
    assert filecmp.cmp(os.path.join(workdir, name), os.path.join(copy, name), shallow=False)


def test_strengths_that_percent_g_merges_stay_apart_in_every_file(finished_sweep, tmp_path):
  # β = 8's run relabelled as β = 1.000001: `%g` prints both strengths as 1.
  _, workdir, _, _ = finished_sweep
  copy = str(tmp_path / 'copy')
  shutil.copytree(workdir, copy)
  old, new = sweep.run_dir(copy, 'beta_vae', 8, 0), sweep.run_dir(copy, 'beta_vae', 1.000001, 0)
  os.rename(old, new)
  with open(os.path.join(new, 'config.json')) as f:
    config = json.load(f)
  config['beta'] = 1.000001
  with open(os.path.join(new, 'config.json'), 'w') as f:
    json.dump(config, f)
  report.write_report(copy)
  with open(os.path.join(copy, 'summary.csv')) as f:
    assert [line.split(',')[1] for line in f.read().splitlines()[1:]] == ['1', '1.000001']
  with open(os.path.join(copy, 'summary_by_strength.csv')) as f:
    assert [line.split(',')[1] for line in f.read().splitlines()[1:]] == ['1', '1.000001']
  with open(os.path.join(copy, 'summary.json')) as f:
    summary = json.load(f)
  assert set(summary['scores']['discrete_mig']['by_strength']) == {'1', '1.000001'}
  with open(os.path.join(copy, 'summary.md')) as f:
    assert '| | β = 1 (n=1) | β = 1.000001 (n=1) |' in f.read()


def test_rerun_trains_and_scores_nothing(finished_sweep):
  config, workdir, rows, _ = finished_sweep
  runs = [sweep.run_dir(workdir, 'beta_vae', b, 0) for b in (1, 8)]
  before = {r: (read_metrics(r), os.path.getmtime(os.path.join(r, 'eval_disentanglement.json')))
            for r in runs}
  again, _ = sweep.run(config, workdir)
  assert [(r['beta'], r['recon']) for r in again] == [(r['beta'], r['recon']) for r in rows]
  for r in runs:
    assert (read_metrics(r), os.path.getmtime(os.path.join(r, 'eval_disentanglement.json'))) \
        == before[r]


def test_a_diverging_model_is_excluded_and_the_others_finish(tmp_path):
  config = sweep_test.get_config()
  config.betas = '1,inf'  # inf·KL: that model's loss is not finite from its first step.
  workdir = str(tmp_path / 'sweep')
  sweep.train_sweep(config, settings.check_config(config), workdir)
  assert [m.strength for m in sweep.members(config, workdir)
          if run_directory.is_complete(m.workdir, config.num_train_steps)] == [1.0]
  failed = sweep.run_dir(workdir, 'beta_vae', float('inf'), 0)
  with open(os.path.join(failed, run_directory.FAILED_FILE)) as f:
    assert 'non-finite loss inf before step' in f.read()
    f.seek(0)
    assert f.read().strip().endswith('--config.beta=inf multiplies a loss term; use a finite beta')
  rows, excluded = report.collect(workdir)
  assert [r['beta'] for r in rows] == [1.0]
  assert list(excluded) == [os.path.relpath(failed, workdir)]


@pytest.mark.parametrize('setting,value,message', [
    ('num_seeds', 0, '--config.num_seeds=0 must be a positive integer'),
    ('models_per_step', 0, "--config.models_per_step=0 must be a positive integer or 'auto'"),
    ('betas', '1,-2', "--config.betas='1,-2' must list one or more β >= 0"),
])
def test_bad_sweep_settings_write_nothing(tmp_path, setting, value, message):
  config = sweep_test.get_config()
  config[setting] = value
  with pytest.raises(UserInputError, match=message.replace('(', r'\(').replace(')', r'\)')):
    sweep.run(config, str(tmp_path / 'sweep'))
  assert not (tmp_path / 'sweep').exists()


def _scored_at(runs):
  """{run: the mtime of its scores}: unchanged when a run is neither trained nor scored again."""
  return {r: os.path.getmtime(os.path.join(r, 'eval_disentanglement.json')) for r in runs}


def _grown_copy(finished_sweep, tmp_path):
  """(a copy of the sweep's config, a copy of its workdir, its finished models' `_scored_at`)."""
  config, workdir, _, _ = finished_sweep
  grown = str(tmp_path / 'grown')
  shutil.copytree(workdir, grown)
  finished = _scored_at([sweep.run_dir(grown, 'beta_vae', b, 0) for b in (1, 8)])
  return config.copy_and_resolve_references(), grown, finished


def test_a_finished_sweep_grows_by_a_strength_and_keeps_what_is_finished(finished_sweep, tmp_path):
  config, grown, finished = _grown_copy(finished_sweep, tmp_path)
  config.betas = '1,8,16'
  rows, excluded = sweep.run(config, grown)
  assert not excluded
  assert [r['beta'] for r in rows] == [1.0, 8.0, 16.0]
  assert _scored_at(finished) == finished  # Neither trained nor scored again.
  saved = run_directory.read_config(sweep.run_dir(grown, 'beta_vae', 16, 0))
  assert saved.beta == 16.0
  assert not set(run_directory.STUDY_SETTINGS) & set(saved)  # A model's config holds no sweep's.


def _counting(monkeypatch, module, name):
  """Counts the calls of `module.name` from here on."""
  calls, original = [], getattr(module, name)

  def counted(*args, **kwargs):
    calls.append(None)
    return original(*args, **kwargs)

  monkeypatch.setattr(module, name, counted)
  return calls


@pytest.mark.slow  # 34 s; growing by a strength stays in the fast pass.
def test_a_finished_sweep_grows_by_a_seed_checking_its_settings_and_opening_its_data_once(
    finished_sweep, tmp_path, monkeypatch):
  config, grown, finished = _grown_copy(finished_sweep, tmp_path)
  config.num_seeds = 2
  checks = _counting(monkeypatch, settings, 'check_config')
  opens = _counting(monkeypatch, data, 'from_config')
  rows, excluded = sweep.run(config, grown)
  assert len(checks) == 1 and len(opens) == 1  # The sweep path's one settings boundary.
  assert not excluded
  assert [(r['beta'], r['seed']) for r in rows] == [(1.0, 0), (1.0, 1), (8.0, 0), (8.0, 1)]
  assert _scored_at(finished) == finished  # Neither trained nor scored again.
  with open(os.path.join(grown, 'summary.csv')) as f:  # The summary holds every model.
    assert len(f.read().strip().splitlines()) == 1 + 4


def test_a_finished_model_with_another_setting_it_reads_is_refused_in_one_line(finished_sweep,
                                                                               tmp_path):
  config, workdir, _, _ = finished_sweep
  changed = str(tmp_path / 'changed')
  shutil.copytree(workdir, changed)
  config = config.copy_and_resolve_references()
  config.learning_rate = 2 * config.learning_rate
  with pytest.raises(UserInputError) as error:
    sweep.run(config, changed)
  message = str(error.value)
  assert '\n' not in message
  assert message.startswith(f"--workdir={sweep.run_dir(changed, 'beta_vae', 1, 0)} holds a "
                            'finished model with other settings (learning_rate: ')
  assert message.endswith('); use a new --workdir')


def test_a_model_saved_with_study_device_and_other_methods_settings_is_still_finished(
    finished_sweep, tmp_path):
  config, workdir, rows, _ = finished_sweep
  old = str(tmp_path / 'old')
  shutil.copytree(workdir, old)
  run = sweep.run_dir(old, 'beta_vae', 1, 0)
  path = os.path.join(run, run_directory.CONFIG_FILE)
  with open(path) as f:
    saved = json.load(f)
  # What a model's config held before it kept only what defines the model.
  saved.update(betas='1,8', num_seeds=1, models_per_step=2, mesh_shape='auto', conv_impl='auto',
               gamma=10.0, tc_estimator='mws', discriminator_hidden=1000)
  with open(path, 'w') as f:
    json.dump(saved, f)
  before = _scored_at([run])
  again, excluded = sweep.run(config, old)
  assert not excluded and len(again) == len(rows)
  assert _scored_at([run]) == before
