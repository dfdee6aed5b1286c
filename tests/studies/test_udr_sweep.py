"""UDR over a sweep's models: udr.json, its recomputation when the models change, the report's
column and figure."""

import csv
import json
import os
import shutil

import numpy as np
import pytest

from experiments.configs import sweep_test
from experiments.configs import test
from tests import figure_legibility
from vae.evaluation import udr
from vae.studies import sweep
from vae.training import run_directory


def _config():
  config = sweep_test.get_config()
  # The tiny models' KL per latent (~0.005 nats after 4 steps) is below the reference's 0.01:
  # every latent counts here, so the similarity matrices are fitted on real codes.
  config.udr.kl_threshold = 0.0
  # Time; MIG, DCI stay.
  config.disentanglement.skip_metrics = f'beta_vae,factor_vae,modularity,{test.SKIP_METRICS}'
  return config


@pytest.fixture(scope='module')
def udr_sweep(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('udr_sweep'))
  config = _config()
  with pytest.MonkeyPatch.context() as monkeypatch:
    with figure_legibility.recording(monkeypatch) as found:
      rows, _ = sweep.run(config, workdir)
  _FIGURES.update(found)
  return config, workdir, rows


# {path: legibility problems} of every figure the UDR sweep saved.
_FIGURES = {}


def _read_udr(workdir):
  with open(os.path.join(workdir, udr.RESULT_FILE)) as f:
    return json.load(f)


def test_udr_json_holds_each_model_against_the_other(udr_sweep):
  config, workdir, _ = udr_sweep
  saved = _read_udr(workdir)
  names = ['beta_vae_1_seed_0', 'beta_vae_8_seed_0']
  assert saved['order'] == names and sorted(saved['models']) == names
  assert saved['settings'] == config.udr.to_dict()
  for score in ('udr', 'udr_spearman'):
    pairwise = saved['pairwise'][score]
    assert pairwise[0][0] is None and pairwise[1][1] is None
    # Two models: each one's median is its single pair, the other model predicting it.
    assert saved['models'][names[0]][score] == pairwise[1][0]
    assert saved['models'][names[1]][score] == pairwise[0][1]
    assert 0 < pairwise[0][1] <= 1 and 0 < pairwise[1][0] <= 1
  assert [saved['models'][n]['active_latents'] for n in names] == [4, 4]


def test_report_has_the_udr_columns_and_figure(udr_sweep):
  _, workdir, rows = udr_sweep
  saved = _read_udr(workdir)['models']
  with open(os.path.join(workdir, 'summary.csv')) as f:
    table = list(csv.DictReader(f))
  for row, summary_row in zip(rows, table):
    name = os.path.basename(row['run_dir'])
    for score in ('udr', 'udr_spearman'):
      assert row[score] == saved[name][score]
      assert float(summary_row[score]) == pytest.approx(saved[name][score], rel=1e-5)
  with open(os.path.join(workdir, 'summary_by_strength.csv')) as f:
    assert 'udr_median' in f.readline().split(',')
  with open(os.path.join(workdir, 'summary.md')) as f:
    assert '\n| udr | ' in f.read()
  assert os.path.getsize(os.path.join(workdir, 'figures', 'udr_vs_scores.png')) > 0
  assert {p: problems for p, problems in _FIGURES.items() if problems} == {}


def test_a_rerun_with_the_same_models_restores_nothing(udr_sweep, monkeypatch):
  config, workdir, _ = udr_sweep
  path = os.path.join(workdir, udr.RESULT_FILE)
  before = os.path.getmtime(path)
  restores = []
  monkeypatch.setattr(run_directory, 'restore_run', lambda *a: restores.append(a))
  sweep.run(config, workdir)
  assert not restores and os.path.getmtime(path) == before


def test_fewer_than_two_models_have_no_udr_and_a_stale_file_goes(udr_sweep, tmp_path):
  config, workdir, _ = udr_sweep
  shutil.copy(os.path.join(workdir, udr.RESULT_FILE), tmp_path / udr.RESULT_FILE)
  one = sweep.members(config, str(tmp_path))[:1]
  assert sweep.write_udr(config, None, str(tmp_path), one) is None
  assert not (tmp_path / udr.RESULT_FILE).exists()


@pytest.mark.slow  # Trains two more models: 15 s on a 2-core CPU, beyond the fixture.
def test_a_sweep_grown_by_a_seed_scores_every_model_on_the_same_inputs(udr_sweep, tmp_path):
  config, workdir, _ = udr_sweep
  grown = str(tmp_path / 'grown')
  shutil.copytree(workdir, grown)
  old = _read_udr(workdir)
  config = config.copy_and_resolve_references()
  config.num_seeds = 2
  sweep.run(config, grown)
  new = _read_udr(grown)
  names = ['beta_vae_1_seed_0', 'beta_vae_1_seed_1', 'beta_vae_8_seed_0', 'beta_vae_8_seed_1']
  assert new['order'] == names
  index = {n: i for i, n in enumerate(names)}
  first, second = old['order']
  for score in ('udr', 'udr_spearman'):
    pairwise = np.array(new['pairwise'][score], dtype=float)
    # The inputs come from the sweep's seed: the old pair scores the same on the grown sweep.
    assert pairwise[index[first], index[second]] == pytest.approx(old['pairwise'][score][0][1])
    assert pairwise[index[second], index[first]] == pytest.approx(old['pairwise'][score][1][0])
    for name in names:  # Each model's UDR: the median over the three models that predict it.
      column = np.delete(pairwise[:, index[name]], index[name])
      assert new['models'][name][score] == pytest.approx(np.median(column))
