"""The method comparison end to end on the tiny config: each method a sweep, then one table."""

import csv
import os

import ml_collections
import pytest

from experiments.configs import hfs_correlated_cpu
from experiments.configs import methods_test
from experiments.configs import recent_methods_cpu
from experiments.configs import reproduce_hsu2023
from experiments.configs import reproduce_locatello2020_cpu
from experiments.configs import reproduce_locatello2020_few_labels
from experiments.configs import reproduce_roth2023
from tests import figure_legibility
from vae import methods as registry
from vae.errors import UserInputError
from vae.studies import method_comparison


def _config():
  config = methods_test.get_config()
  config.methods = 'factor_vae,beta_tcvae'
  config.method_strengths.factor_vae = '10,40'
  config.method_strengths.beta_tcvae = '1,6'
  config.disentanglement.representations = 'mean'
  return config


@pytest.mark.slow  # 75 s; `.ci/run` runs it after the fast suite.
def test_two_methods_give_one_table_and_figure(tmp_path, monkeypatch):
  workdir = str(tmp_path / 'compare')
  with figure_legibility.recording(monkeypatch) as figures:
    table, excluded = method_comparison.run(_config(), workdir)
  assert not excluded
  assert 'methods_tradeoff.png' in {os.path.basename(p) for p in figures}
  assert {p: problems for p, problems in figures.items() if problems} == {}
  assert [(r['method'], r['strength']) for r in table] == [
      ('factor_vae', 10.0), ('factor_vae', 40.0), ('beta_tcvae', 1.0), ('beta_tcvae', 6.0)]
  with open(os.path.join(workdir, 'methods.csv')) as f:
    written = list(csv.DictReader(f))
  assert list(written[0]) == list(method_comparison.COLUMNS)
  for row in written:
    assert row['chen_mig'] == ''  # Chen et al.'s MIG is computed only when the config asks.
    for name in set(method_comparison.COLUMNS[3:]) - {'chen_mig'}:
      assert row[name] != '', (row['method'], name)  # Both methods estimate a TC.
    assert float(row['log_px']) == pytest.approx(
        float(row['elbo']) + float(next(r for r in table if r['method'] == row['method'] and
                                        r['strength'] == float(row['strength']))['elbo_gap']),
        rel=1e-5)
  # Each method is a sweep of its own, with its summary and runs named by method and value.
  for method, value in (('factor_vae', 10), ('beta_tcvae', 6)):
    run = os.path.join(workdir, method, 'runs', f'{method}_{value}_seed_0')
    assert os.path.exists(os.path.join(run, 'complete.json'))
    assert os.path.exists(os.path.join(workdir, method, 'summary.md'))
  assert os.path.getsize(os.path.join(workdir, 'figures', 'methods_tradeoff.png')) > 0
  with open(os.path.join(workdir, 'methods.md')) as f:
    assert '| factor_vae | 40 | 0 |' in f.read()
  # Re-running finds everything finished and rewrites the same table.
  with open(os.path.join(workdir, 'methods.csv')) as f:
    before = f.read()
  method_comparison.run(_config(), workdir)
  with open(os.path.join(workdir, 'methods.csv')) as f:
    assert f.read() == before


@pytest.mark.parametrize('methods,message', [
    ('beta_vae,ae', "--config.methods='beta_vae,ae' must list methods from: "
                    + ', '.join(registry.SWEPT)),
    ('', "--config.methods='' must list methods from:"),
])
def test_bad_methods_are_one_line_errors_before_any_file(methods, message, tmp_path):
  config = _config()
  config.methods = methods
  with pytest.raises(UserInputError, match='^' + message):
    method_comparison.run(config, str(tmp_path / 'never'))
  assert not (tmp_path / 'never').exists()


def _rows(values_by_method, name='discrete_mig'):
  return [{'method': m, 'strength': 6.0, 'seed': s, 'recon': 100.0, name: v}
          for m, values in values_by_method.items() for s, v in enumerate(values)]


def test_methods_at_equal_strength_are_compared_beyond_seed_noise():
  # Five seeds apiece, wholly separated: Mann–Whitney's exact two-sided p = 2 / C(10, 5).
  text = method_comparison.markdown(_rows({'beta_vae': [0.1, 0.12, 0.09, 0.11, 0.1],
                                           'beta_tcvae': [0.3, 0.25, 0.28, 0.31, 0.29]}), {})
  assert ('- strength 6, MIG: beta_vae 0.1 [0.1, 0.11], beta_tcvae 0.29 [0.28, 0.3]; beta_tcvae '
          'is above beta_vae beyond seed noise (p = 0.00794).') in text
  overlapping = method_comparison.markdown(_rows({'beta_vae': [0.1, 0.3, 0.2],
                                                  'beta_tcvae': [0.25, 0.15, 0.35]}), {})
  assert 'not distinguishable at n = 3 seeds (highest median beta_tcvae' in overlapping
  assert 'the least p at this n is 0.1)' in overlapping  # 2 / C(6, 3).


def test_methods_each_at_one_strength_of_its_own_are_compared_together():
  rows = (_rows({'beta_vae': [0.1, 0.12, 0.09, 0.11], 'ada_gvae_k1': [0.3, 0.25, 0.28, 0.31]}) +
          [{'method': 'qlae', 'strength': 0.001, 'seed': s, 'recon': 90.0, 'discrete_mig': v}
           for s, v in enumerate([0.2, 0.22, 0.19, 0.21])])
  text = method_comparison.markdown(rows, {})
  # β-VAE and Ada-GVAE share β = 6; QLAE's λ is another quantity: compared in the group of all.
  assert '- strength 6, MIG: beta_vae 0.105 [0.0975, 0.113], ada_gvae_k1 0.29' in text
  assert '- each at its strength, MIG: beta_vae 0.105 [0.0975, 0.113], ada_gvae_k1 0.29 ' \
         '[0.273, 0.302], qlae 0.205 [0.198, 0.212]' in text
  # 2 / C(8, 4): wholly separated groups of 4.
  assert '  - qlae against beta_vae: qlae is above beta_vae beyond seed noise (p = 0.0286).' in text
  # Two strengths of one method: no group of all.
  two = _rows({'beta_vae': [0.1, 0.2], 'beta_tcvae': [0.3, 0.4]})
  two[0]['strength'] = 4.0
  assert 'each at its strength' not in method_comparison.markdown(two, {})


def test_a_score_a_model_leaves_undefined_is_left_out_and_said():
  rows = _rows({'beta_vae': [0.1, 0.12, 0.09, 0.11], 'beta_tcvae': [0.3, float('nan'), 0.28, 0.31]})
  text = method_comparison.markdown(rows, {})
  # The three defined seeds: median 0.3, quartiles 0.29 and 0.305 (numpy's linear interpolation);
  # 4 and 3 seeds wholly separated: Mann–Whitney's exact two-sided p = 2 / C(7, 3) = 0.0571.
  assert ('- strength 6, MIG: beta_vae 0.105 [0.0975, 0.113], beta_tcvae 0.3 [0.29, 0.305] '
          '(1 seeds undefined, left out); not distinguishable at n = 3 seeds (highest median '
          'beta_tcvae, p = 0.0571; the least p at this n is 0.0571).') in text


def test_the_sweeps_of_a_comparison_are_found_by_their_directories(tmp_path):
  for method in ('beta_tcvae', 'beta_vae'):
    (tmp_path / method / 'runs').mkdir(parents=True)
  assert method_comparison.compared_methods(str(tmp_path)) == ['beta_vae', 'beta_tcvae']
  assert method_comparison.compared_methods(str(tmp_path / 'beta_vae')) == []
  assert method_comparison.compared_methods(str(tmp_path / 'missing')) == []


def test_with_three_methods_each_is_also_compared_with_the_first():
  # 4 seeds apiece: the first (baseline) wholly below the other two, which overlap. Reference:
  # Mann–Whitney's exact two-sided p of two wholly separated groups of 4 is 2 / C(8, 4) = 0.0286.
  text = method_comparison.markdown(_rows({'beta_vae': [0.1, 0.12, 0.09, 0.11],
                                           'ada_gvae_k1': [0.3, 0.25, 0.28, 0.31],
                                           'ada_gvae_rnd': [0.29, 0.24, 0.32, 0.27]}), {})
  assert '  - ada_gvae_k1 against beta_vae: ada_gvae_k1 is above beta_vae beyond seed noise ' \
         '(p = 0.0286).' in text
  assert '  - ada_gvae_rnd against beta_vae: ada_gvae_rnd is above beta_vae beyond seed noise ' \
         '(p = 0.0286).' in text
  # Quartiles by numpy's linear interpolation: 0.0975 and 0.1125 of 0.09 … 0.12, and so on.
  assert 'MIG: beta_vae 0.105 [0.0975, 0.113], ada_gvae_k1 0.29 [0.273, 0.302], ada_gvae_rnd ' \
         '0.28 [0.263, 0.297]; not distinguishable at n = 4 seeds' in text


def test_a_variant_is_its_method_with_settings_changed(tmp_path):
  config = _config()
  config.methods = 'factor_vae,ada_gvae_k1'
  config.method_variants = ml_collections.ConfigDict(
      {'ada_gvae_k1': {'method': 'ada_gvae', 'num_changed_factors': '1'}})
  config.method_strengths.ada_gvae_k1 = '4'
  assert method_comparison.entries(config) == ('factor_vae', 'ada_gvae_k1')
  variant = method_comparison.method_config(config, 'ada_gvae_k1')
  assert (variant.method, variant.num_changed_factors, variant.strengths) == ('ada_gvae', '1',
                                                                              '4.0')
  assert 'method_variants' not in variant and 'methods' not in variant
  (tmp_path / 'ada_gvae_k1' / 'runs').mkdir(parents=True)
  (tmp_path / 'beta_vae' / 'runs').mkdir(parents=True)
  assert method_comparison.compared_methods(str(tmp_path)) == ['beta_vae', 'ada_gvae_k1']
  config.method_variants.ada_gvae_k1.method = 'vq_vae'
  with pytest.raises(UserInputError, match=r"^unknown method 'vq_vae' \(--config.method_variants"
                                           r".ada_gvae_k1.method\); allowed: beta_vae"):
    method_comparison.run(config, str(tmp_path / 'never'))
  assert not (tmp_path / 'never').exists()


def test_the_figure_has_a_panel_per_score_some_model_has(tmp_path, monkeypatch):
  table = _rows({'beta_vae': [0.1, 0.2], 'ada_gvae_k1': [0.3, 0.4]})  # MIG only.
  table = [{**r, 'run_dir': f'run_{i}'} for i, r in enumerate(table)]
  monkeypatch.setattr(method_comparison, 'rows', lambda workdir, entries: (table, {}))
  drawn = {}
  monkeypatch.setattr(method_comparison.plotting, 'save_method_tradeoff',
                      lambda path, points, scores: drawn.update(points=points, scores=scores))
  # The rows' run directories are not on disk: no TensorBoard view to write.
  monkeypatch.setattr(method_comparison.trials, 'write_study_hparams', lambda *a, **k: None)
  method_comparison.write_comparison(str(tmp_path), ['beta_vae', 'ada_gvae_k1'])
  assert drawn['scores'] == [('discrete_mig', 'MIG')]
  assert list(drawn['points']) == ['beta_vae', 'ada_gvae_k1']


@pytest.mark.parametrize('module', [reproduce_locatello2020_cpu, recent_methods_cpu,
                                    hfs_correlated_cpu, reproduce_locatello2020_few_labels,
                                    reproduce_hsu2023, reproduce_roth2023],
                         ids=lambda m: m.__name__.rsplit('.', 1)[-1])
def test_shipped_comparison_configs_pass_every_check(module):
  configs, _ = method_comparison.checked_configs(module.get_config())
  assert list(configs) == module.get_config().methods.split(',')
