"""The reference study's methods compared: each swept over its strengths, then one table and plot.

Each entry of `config.methods` is the sweep `--config.method=<method>
--config.strengths=<config.method_strengths.<entry>>` in `workdir/<entry>/` (its models train
as one vmapped program, and it has its own summary), so re-running resumes every entry exactly.
An entry is a method's name, or the name of a variant in `config.method_variants`: a method with
some of its settings changed, e.g. `{'ada_gvae_k1': {'method': 'ada_gvae',
'num_changed_factors': '1'}}`, so one method can stand in the table under several settings.
The comparison itself is rebuilt from the sweeps' saved files:
  methods.csv / methods.md      one row per model: method, strength, seed, recon, kl, elbo,
                                log_px, the method's TC estimate and the headline scores (with
                                InfoMEC and DCI-ES explicitness); methods.md also compares the
                                methods at each strength they share, and all of them when each
                                has one strength (`vae.studies.seed_statistics`: best by median,
                                beyond seed noise or not; with three or more, each against the
                                first)
  figures/methods_tradeoff.png  each score against recon, a marker per method, a point per strength
  score_correlations.csv, figures/score_correlations.png
                                the columns' rank correlations over every model
                                (`vae.studies.score_correlations`)
"""

import os

from vae import files
from vae import methods as method_registry
from vae import plotting
from vae import rules
from vae import settings
from vae.errors import UserInputError
from vae.methods.method import strength_label
from vae.studies import report
from vae.studies import score_correlations
from vae.studies import seed_statistics
from vae.studies import shards
from vae.studies import sweep
from vae.studies import trials
from vae.training import parallel

# The TC each method estimates (β-TCVAE's batch estimate, FactorVAE's discriminator's), as `tc`.
_TC_OF = {'beta_tcvae': 'tc', 'factor_vae': 'tc_estimate'}
SCORES = (('discrete_mig', 'MIG'), ('chen_mig', 'MIG (Chen et al.)'),
          ('factor_vae_eval_accuracy', 'FactorVAE score'),
          ('disentanglement', 'DCI disentanglement'), ('sap_score', 'SAP'),
          ('infom', 'InfoM'), ('infoc', 'InfoC'), ('infoe', 'InfoE'),
          ('dci_es_explicitness', 'DCI-ES explicitness'))
COLUMNS = ('method', 'strength', 'seed', 'recon', 'kl', 'elbo', 'log_px', 'tc',
           *(name for name, _ in SCORES))


def entries(config) -> tuple[str, ...]:
  """The names of `config.methods`: swept methods, or variants in `config.method_variants` of
  one."""
  variants = config.get('method_variants') or {}
  for name, variant in variants.items():
    if name in method_registry.REGISTRY:
      raise UserInputError(f'--config.method_variants.{name} must not reuse a method\'s name')
    rules.OneOf(method_registry.SWEPT).check(f'--config.method_variants.{name}.method',
                                             variant.get('method'))
  return settings.parse_methods(config.methods, (*method_registry.SWEPT, *variants))


def method_config(config, entry):
  """`config` as the sweep of `entry` (a method, or a variant of one) over its
  `method_strengths` (unchecked)."""
  config = config.copy_and_resolve_references()
  variant = dict((config.get('method_variants') or {}).get(entry, {'method': entry}))
  config.method = variant.pop('method')
  values = config.method_strengths.get(entry, '')
  setting = method_registry.strength_setting(config.method)
  with config.unlocked():
    config.update(variant)
    config.strengths = ','.join(map(repr, settings.parse_values(
        f'method_strengths.{entry}', values, setting))) if values else ''
    del config['method_strengths'], config['methods']
    if 'method_variants' in config:
      del config['method_variants']
  return config


def rows(workdir, entries):
  """The comparison's rows, one per finished model, in entry order, each named by its entry;
  {run: why excluded}."""
  table, excluded = [], {}
  for entry in entries:
    found, left_out = report.collect(os.path.join(workdir, entry))
    excluded.update({f'{entry}/{run}': why for run, why in left_out.items()})
    for row in found:
      table.append({**row, 'method': entry, 'tc': row.get(_TC_OF.get(row['method']))})
  return table, excluded


def _cell(value):
  return '' if value is None else f'{value:.4g}'


def _verdict(by_method):
  """Whether the best of {method: values over seeds} is above the runner-up beyond seed noise."""
  best = seed_statistics.best_strength(by_method)
  if best.p_value is None:
    return 'one seed of a method: no comparison can be made'
  if best.distinguishable:
    return f'{best.best} is above {best.runner_up} beyond seed noise (p = {best.p_value:.3g})'
  return (f'not distinguishable at n = {best.min_seeds} seeds (highest median {best.best}, '
          f'p = {best.p_value:.3g}; the least p at this n is {best.smallest_p:.3g})')


def _compared_groups(table):
  """[(label, rows)]: the rows at each strength that two or more entries share; and, when every
  entry has one strength and they are not all the same, all the rows, each entry at its own (a
  method whose strength is another quantity, QLAE's λ beside a β, is still compared)."""
  groups = [(f'strength {strength_label(strength)}', [r for r in table if r['strength'] == strength])
            for strength in sorted({r['strength'] for r in table})]
  groups = [(label, rows) for label, rows in groups if len({r['method'] for r in rows}) >= 2]
  strengths = {}
  for r in table:
    strengths.setdefault(r['method'], set()).add(r['strength'])
  if (len(strengths) >= 2 and all(len(v) == 1 for v in strengths.values())
      and len(set.union(*strengths.values())) > 1):
    groups.append(('each at its strength', table))
  return groups


def _compared(table):
  """Lines comparing the methods in each of `_compared_groups`, score by score; with three or
  more, each is also compared with the first (the baseline)."""
  lines = []
  for label, at in _compared_groups(table):
    for name, title in SCORES:
      by_method, undefined = {}, {}
      for r in at:
        if report.defined(r.get(name)):
          by_method.setdefault(r['method'], []).append(float(r[name]))
        elif r.get(name) is not None:
          undefined[r['method']] = undefined.get(r['method'], 0) + 1
      if len(by_method) < 2:
        continue
      spreads = ', '.join(
          f'{m} {report.spread_cell(v, 3)}' + (f' ({undefined[m]} seeds undefined, left out)'
                                               if m in undefined else '')
          for m, v in by_method.items())
      lines.append(f'- {label}, {title}: {spreads}; {_verdict(by_method)}.')
      baseline, *others = by_method
      if len(others) > 1:
        lines += [f'  - {other} against {baseline}: '
                  f'{_verdict({baseline: by_method[baseline], other: by_method[other]})}.'
                  for other in others]
  return lines


def markdown(table, excluded):
  lines = ['# The methods compared', '',
           'recon, kl, elbo and log_px (the importance-weighted bound) in nats per example on the '
           'eval set; tc is the method\'s own estimate of the total correlation (β-TCVAE: the '
           'batch estimator it trains with; FactorVAE: the discriminator\'s).', '',
           '| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|' * len(COLUMNS)]
  for row in table:
    cells = [row['method'], strength_label(row['strength']), str(row['seed'])]
    lines.append('| ' + ' | '.join(cells + [_cell(row.get(c)) for c in COLUMNS[3:]]) + ' |')
  compared = _compared(table)
  if compared:
    lines += ['', '## The methods compared over seeds', '',
              'At each strength two or more methods share; when each method has one strength, '
              'also all of them, each at its own.', '',
              'Median [interquartile range] over seeds; the test is that of each sweep\'s summary '
              '(Mann–Whitney U of the best method over the runner-up, by permutation).', '',
              *compared]
  if excluded:
    lines += ['', '## Excluded runs', '', *[f'- {d}: {why}' for d, why in sorted(excluded.items())]]
  return '\n'.join(lines) + '\n'


def compared_methods(workdir):
  """The entries whose sweeps `workdir` holds (`workdir/<entry>/runs/`): methods in registry
  order, then variants by name."""
  if not os.path.isdir(workdir):
    return []  # Not a comparison: the report's own checks name what is wrong with it.
  held = [d for d in sorted(os.listdir(workdir)) if os.path.isdir(os.path.join(workdir, d, 'runs'))]
  return ([m for m in method_registry.SWEPT if m in held] +
          [d for d in held if d not in method_registry.SWEPT])


def write_comparison(workdir, methods):
  """methods.csv, methods.md and figures/methods_tradeoff.png from the sweeps' files."""
  table, excluded = rows(workdir, methods)
  if not table:
    return table, excluded
  report.write_csv(os.path.join(workdir, 'methods.csv'), table, COLUMNS)
  files.write_atomic(os.path.join(workdir, 'methods.md'), markdown(table, excluded))
  points = {}
  for row in table:
    points.setdefault(row['method'], []).append(row)
  score_correlations.write(workdir, table, COLUMNS[3:])
  scored = [(name, title) for name, title in SCORES if any(r.get(name) is not None for r in table)]
  plotting.save_method_tradeoff(os.path.join(workdir, 'figures', 'methods_tradeoff.png'),
                                points, scored)  # A score no model has (Chen's MIG) gets no panel.
  trials.write_study_hparams(workdir, [r['run_dir'] for r in table],
                             trial=('method', 'strength', 'seed'),
                             columns={r['run_dir']: {'method': r['method']} for r in table},
                             scores={r['run_dir']: {'udr': r.get('udr')} for r in table})
  return table, excluded


def report_study(configs, dataset, workdir):
  """Each entry's UDR and report (`sweep.report_study`), then the comparison's table and
  figure, of every finished member, whichever process or shard trained it; `configs`: {entry:
  its sweep's config}."""
  for entry, entry_config in configs.items():
    sweep.report_study(entry_config, dataset, os.path.join(workdir, entry))
  return write_comparison(workdir, list(configs))


def checked_configs(config):
  """({entry: its sweep's config}, the data source), every setting of every entry checked before
  any file is written and the source opened once."""
  configs = {m: method_config(config, m) for m in entries(config)}
  dataset = None
  for method_cfg in configs.values():
    dataset = settings.check_config(method_cfg, dataset)
  return configs, dataset


def run(config, workdir):
  """Sweeps every method (resuming), writes each sweep's report and the comparison.

  With several processes (`vae.training.parallel`) each trains its part of every sweep, and
  process 0 alone locks, reports and returns the table; the others return None. With
  `config.shard` (`vae.studies.shards`) it claims the shard, trains the shard's members of every
  sweep and returns None: `experiments.report` reports.
  """
  configs, dataset = checked_configs(config)
  methods = list(configs)
  shard = shards.parse(config.get('shard', ''))
  if shard is not None:
    def train_every_sweep():
      for method in methods:
        sweep.train_sweep(configs[method], dataset, os.path.join(workdir, method), shard)

    shards.train(workdir, shard, config, train_every_sweep)
    return None
  if not parallel.writes_checkpoints():
    for method in methods:
      sweep.run(configs[method], os.path.join(workdir, method), dataset)
    return None
  files.prepare_directory(workdir)
  lock = files.DirectoryLock(workdir)
  try:
    files.remove_temporaries(workdir, os.path.join(workdir, 'figures'))
    for method in methods:
      sweep.run(configs[method], os.path.join(workdir, method), dataset)
    return write_comparison(workdir, methods)
  finally:
    lock.release()
