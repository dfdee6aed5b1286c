"""Tables and plots rebuilt from a workdir's saved files alone (a sweep or a single run).

Reads each finished run's `config.json` (method, strength, seed), its final eval row of
`metrics.jsonl` and, where present, `eval_disentanglement.json` (a run counts once its
`complete.json` exists) and the sweep's `udr.json` (its `udr` and `udr_spearman` columns, and
`figures/udr_vs_scores.png`: UDR against each supervised headline score); writes `summary.csv`
(a row per model), `summary_by_strength.csv` (per strength, each score's median, quartiles and
seed count), `summary.json` (both, and per score the variance share between strengths and the
best-strength test of `vae.studies.seed_statistics`), `summary.md` (the answer first: each
headline score's verdict and reconstruction cost, the headline table, which latents carry which
factor at each strength, then every column by family, `vae.studies.score_families`), `figures/`
plots, and the scores' rank correlations over the models (`score_correlations.csv`,
`figures/score_correlations.png`: `vae.studies.score_correlations`).
A sweep holds one method; its rows are grouped by strength (β, γ, λ_od or C_max), each named by
`strength_label`, the shortest decimal that reads back as it, in every key, column and figure.
Nothing is trained or recomputed, so the output is a pure function of the files.
"""
import csv
import glob
import io
import json
import math
import os

import numpy as np
from absl import logging

from vae import files
from vae import methods
from vae import plotting
from vae import traversal_animation
from vae.evaluation import suite
from vae.evaluation import udr
from vae.methods.method import strength_label
from vae.studies import score_correlations
from vae.studies import score_families
from vae.studies import seed_statistics
from vae.studies import trials
from vae.training import metric_writer
from vae.training import run_directory
from vae.training.run_directory import CONFIG_FILE

# Row fields used by plots and notes, not table columns.
_INTERNAL = ('step', 'kl_per_dim', 'run_dir', 'note', 'factor_latent', 'skipped_metrics')
# `beta` repeats `strength` for the methods whose strength is β, so β sweeps keep their column.
LEADING_COLUMNS = ('method', 'strength', 'beta', 'seed', 'recon', 'kl', 'elbo', 'log_px',
                   'elbo_gap', 'active_latents')
# The final eval row's columns a summary shows: the ELBO's terms, log p(x), each method's own.
EVAL_COLUMNS = ('recon', 'kl', 'elbo', 'log_px', 'elbo_gap',
                *dict.fromkeys(term for method in methods.REGISTRY.values()
                               for term in method.summary_terms))


def run_dirs(workdir):
  """A sweep's `runs/*/`, or the workdir itself for a single run."""
  if os.path.exists(os.path.join(workdir, CONFIG_FILE)):
    return [workdir]
  return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(workdir, 'runs', '*', CONFIG_FILE)))


def _run_row(run_dir):
  """The summary row of one finished run, or None when it is not finished.

  Every field comes from one step: when the scores are of an earlier checkpoint (the final one
  was damaged and `experiments.evaluate` fell back), the row takes that step's eval row and says so
  in its `note`.
  """
  step = run_directory.completed_step(run_dir)
  final = None if step is None else run_directory.final_eval_row(run_dir, step)
  if final is None:
    return None
  config = files.read_json(os.path.join(run_dir, CONFIG_FILE), 'the run config')
  scores_path = os.path.join(run_dir, suite.RESULT_FILE)
  scores = (files.read_json(scores_path, 'disentanglement scores')
            if os.path.exists(scores_path) else None)
  note = None
  if scores is not None and scores.get('step', step) != step:
    note = (f"scores and eval row of step {scores['step']}, an earlier checkpoint than the "
            f'final step {step}')
    logging.warning('%s: %s', run_dir, note)
    step = scores['step']
    final = run_directory.final_eval_row(run_dir, step) or {}
  method = config.get('method', 'beta_vae')
  setting = methods.strength_setting(method)
  row = {'method': method, 'strength': config[setting], 'seed': config['seed'], 'step': step,
         'run_dir': run_dir, 'note': note}
  if setting == 'beta':
    row['beta'] = config['beta']
  row.update({name: final[name] for name in EVAL_COLUMNS if name in final})
  row['kl_per_dim'] = [final[k] for k in sorted(
      (k for k in final if k.startswith('kl_per_dim/')), key=lambda k: int(k.split('/')[1]))]
  if scores is not None:
    row.update(scores['mean'])
    row.update({name: value for name, value in scores.get('aggregate_posterior', {}).items()
                if isinstance(value, float)})
    row['factor_latent'] = scores.get('factor_latent')
    row['skipped_metrics'] = scores.get('skipped_metrics', [])
  return row


def _udr_scores(workdir):
  """{run directory name: {score: value}} of the sweep's `udr.json`, or {} without one."""
  path = os.path.join(workdir, udr.RESULT_FILE)
  if not os.path.exists(path):
    return {}
  return {name: {s: entry[s] for s in udr.SCORE_NAMES.values()}
          for name, entry in files.read_json(path, 'UDR scores')['models'].items()}


def collect(workdir, expected=()):
  """(rows sorted by method, strength, seed; {run_dir: why it was excluded}); of the study's
  `expected` run directories, those not begun are excluded as such."""
  rows, excluded = [], {}
  udr_scores = _udr_scores(workdir)
  found = run_dirs(workdir)
  for run_dir in sorted(set(expected) - set(found)):
    excluded[os.path.relpath(run_dir, workdir)] = 'not started yet'
  for run_dir in found:
    failure = run_directory.failure(run_dir)
    if failure:
      excluded[os.path.relpath(run_dir, workdir)] = failure
      continue
    row = _run_row(run_dir)
    if row is None:
      excluded[os.path.relpath(run_dir, workdir)] = 'not finished yet'
    else:
      rows.append({**row, **udr_scores.get(os.path.basename(run_dir), {})})
  return sorted(rows, key=lambda r: (r['method'], r['strength'], r['seed'])), excluded


def columns(rows):
  scores = sorted({k for r in rows for k in r} - set(LEADING_COLUMNS) - set(_INTERNAL))
  return [c for c in LEADING_COLUMNS if any(c in r for r in rows)] + scores


# Columns that name a setting: written whole, so two strengths never print alike.
_SETTING_COLUMNS = ('strength', 'beta')


def _fmt(name, value):
  if value is None:
    return ''
  if name in _SETTING_COLUMNS and isinstance(value, float):
    return strength_label(value)
  return f'{value:.6g}' if isinstance(value, float) else str(value)


def write_csv(path, rows, names):
  text = io.StringIO()
  writer = csv.writer(text, lineterminator='\n')
  writer.writerow(names)
  writer.writerows([[_fmt(c, r.get(c)) for c in names] for r in rows])
  files.write_atomic(path, text.getvalue())


def defined(value) -> bool:
  """Whether a row's score is a number: not missing, and not NaN (a score the model leaves
  undefined, e.g. InfoC with one active latent), which no median or rank test can take."""
  return value is not None and math.isfinite(float(value))


def per_strength(rows, name):
  """{strength: the defined values of `name` over its seeds}."""
  grouped = {}
  for r in rows:
    if defined(r.get(name)):
      grouped.setdefault(r['strength'], []).append(float(r[name]))
  return grouped


def symbol(rows):
  """How the sweep's strength is written (β, γ, λ_od, C_max)."""
  return methods.get(rows[0]['method']).strength.symbol


def spread_cell(values, digits=4):
  """'median [q25, q75]' of a setting's values over seeds; the value alone for one seed."""
  if len(values) == 1:
    return f'{values[0]:.{digits}g}'
  spread = seed_statistics.spread(values)
  return (f"{spread['median']:.{digits}g} [{spread['q25']:.{digits}g}, "
          f"{spread['q75']:.{digits}g}]")


def metric_names(names):
  """The columns that are measurements (not method, strength, beta or seed)."""
  return [n for n in names if n not in ('method', 'strength', 'beta', 'seed')]


def score_statistics(rows, names):
  """{score: {'by_strength': {strength: spread}, 'variance_between_strengths': share or None,
  'best': the best-strength test (headline scores, two strengths or more)}}."""
  result = {}
  for name in metric_names(names):
    grouped = per_strength(rows, name)
    if not grouped:
      continue
    entry = {'by_strength': {b: seed_statistics.spread(v) for b, v in sorted(grouped.items())},
             'variance_between_strengths': seed_statistics.variance_share(
                 [grouped[b] for b in sorted(grouped)])}
    if name in score_families.HEADLINE_SCORES and len(grouped) >= 2:
      best = seed_statistics.best_strength(grouped)
      entry['best'] = {'strength': best.best, 'median': best.median,
                       'runner_up': best.runner_up, 'p_value': best.p_value,
                       'smallest_possible_p': best.smallest_p, 'min_seeds': best.min_seeds,
                       'distinguishable': best.distinguishable}
    result[name] = entry
  return result


def _share(entry):
  share = entry['variance_between_strengths']
  return '' if share is None else f'; {100 * share:.0f} % of its variance between strengths'


def _recon_cost(recon, strength, sym):
  """'; recon R nats there vs R0 at the best-reconstructing strength (+Δ)', or '' without recon."""
  if strength not in recon:
    return ''
  lowest = min(recon, key=recon.get)
  if lowest == strength:
    return f'; recon {recon[strength]:.1f} nats there, the lowest'
  return (f'; recon {recon[strength]:.1f} nats there vs {recon[lowest]:.1f} at {sym} = '
          f'{strength_label(lowest)} ({recon[strength] - recon[lowest]:+.1f})')


def _verdict_lines(rows, statistics):
  """Each headline score's verdict: its best strength beyond seed noise or none, the test's
  p-value and seeds, and the reconstruction cost there."""
  sym = symbol(rows)
  recon = {b: float(np.median(v)) for b, v in per_strength(rows, 'recon').items()}
  tested = [(n, title, statistics[n]) for n, title in score_families.HEADLINE
            if 'best' in statistics.get(n, {})]
  if not tested:
    return []
  if min(entry['best']['min_seeds'] for _, _, entry in tested) < 2:
    return [f'One seed per {sym}: no comparison between strengths can be made, since a '
            f'difference between two models may be seed noise alone. Rerun with '
            f'--config.num_seeds=4 or more (the fewest with which two strengths can differ '
            f'at p < {seed_statistics.ALPHA}: 2/C(8, 4) = 0.029).']
  lines = []
  for name, title, entry in tested:
    best = entry['best']
    b, runner = strength_label(best['strength']), strength_label(best['runner_up'])
    cost = _recon_cost(recon, best['strength'], sym)
    if best['distinguishable']:
      lines.append(f'- {title}: best at {sym} = {b} (median {best["median"]:.3f}), beyond seed '
                   f'noise against {sym} = {runner} (p = {best["p_value"]:.3g}, n ≥ '
                   f'{best["min_seeds"]} seeds){cost}{_share(entry)}.')
    else:
      floor = best['smallest_possible_p']
      reach = (f'; at this n no table can reach p < {floor:.3g}' if floor >= seed_statistics.ALPHA
               else '')
      lines.append(f'- {title}: no {sym} is distinguishable at n = {best["min_seeds"]} seeds '
                   f'(highest median {best["median"]:.3f} at {sym} = {b}, runner-up {sym} = '
                   f'{runner}, p = {best["p_value"]:.3g}{reach}){cost}{_share(entry)}.')
  return lines + ['', f'Each test: Mann–Whitney U of the best {sym} (highest median) over the '
                  f'runner-up, its null from relabelling every seed across {sym} values (a '
                  f'permutation test; choosing the best is part of it); a {sym} is named best '
                  f'only at p < {seed_statistics.ALPHA}.']


_VERDICT_ORDER = ('one latent', 'spread', 'not encoded')


def _encoding_lines(rows, workdir):
  """One line per strength: each factor's verdicts counted over its seeds, and a link to each
  model's factor_latent.md."""
  sym, lines = symbol(rows), []
  for b in sorted({r['strength'] for r in rows}):
    scored = [r for r in rows if r['strength'] == b and r.get('factor_latent')]
    if not scored:
      continue
    parts = []
    for factor in scored[0]['factor_latent']['factors']:
      verdicts = [r['factor_latent']['encoding'][factor]['verdict'] for r in scored]
      parts.append(f'{factor} ' + ', '.join(f'{v} {verdicts.count(v)}/{len(scored)}'
                                           for v in _VERDICT_ORDER if v in verdicts))
    links = ', '.join(f"[seed {r['seed']}]({os.path.relpath(r['run_dir'], workdir)}/"
                      f'{suite.FACTOR_LATENT_FILE})' for r in scored)
    lines.append(f'- {sym} = {strength_label(b)}: ' + '; '.join(parts) + f'. Per model: {links}.')
  return lines


def _table(rows, names, strengths, sym, titles=None):
  """A markdown table: a row per column of `names` (named by `titles`), a column per strength."""
  titles = titles or {}
  seeds = {b: sum(r['strength'] == b for r in rows) for b in strengths}
  lines = ['| | ' + ' | '.join(f'{sym} = {strength_label(b)} (n={seeds[b]})' for b in strengths)
           + ' |', '|---|' + '---|' * len(strengths)]
  for name in names:
    grouped = per_strength(rows, name)
    if grouped:
      lines.append(f'| {titles.get(name, name)} | ' + ' | '.join(
          _cell_of(grouped.get(b, []), seeds[b]) for b in strengths) + ' |')
  return lines


def _cell_of(values, seeds):
  """A table cell of a strength's defined values; '(n=k)' after it when a model of the strength
  left the score undefined, so the header's n is not read as the cell's."""
  if not values:
    return ''
  return spread_cell(values) + (f' (n={len(values)})' if len(values) < seeds else '')


def markdown(rows, names, excluded, statistics, workdir):
  """summary.md: the verdicts first, then the headline table, the latents of each strength, and
  every column grouped by family."""
  sym, method = symbol(rows), rows[0]['method']
  strengths = sorted({r['strength'] for r in rows})
  lines = [f'# {method} sweep: which {sym} disentangles best, at what reconstruction cost', '']
  verdicts = _verdict_lines(rows, statistics)
  if verdicts:
    lines += [*verdicts, '']
  headline = dict(score_families.COMPONENTS + score_families.HEADLINE)
  lines += ['## Headline scores', '',
            'Median [interquartile range, numpy\'s linear interpolation] over seeds; a single '
            'value where one seed ran. recon, KL, ELBO and log p(x) (importance-weighted) in nats '
            'per example (eval set).', '', *_table(rows, headline, strengths, sym, headline)]
  encodings = _encoding_lines(rows, workdir)
  if encodings:
    lines += ['', '## Which latents carry which factor (|Spearman ρ|; seeds per verdict)', '',
              *encodings]
  lines += ['', '## Every score, by family', '']
  for title, sentence, held in score_families.grouped(metric_names(names)):
    lines += [f'### {title}', '', sentence, '', *_table(rows, held, strengths, sym), '']
  left_out = list(dict.fromkeys(m for r in rows for m in r.get('skipped_metrics', [])))
  if left_out:
    lines += [f"Not computed (`--config.disentanglement.skip_metrics`, for time): "
              f"{', '.join(left_out)}.", '']
  notes = sorted((os.path.basename(r['run_dir']), r['note']) for r in rows if r.get('note'))
  if notes:
    lines += ['## Runs scored at an earlier step', '', *[f'- {d}: {why}' for d, why in notes], '']
  if excluded:
    lines += ['## Excluded runs', '', *[f'- {d}: {why}' for d, why in sorted(excluded.items())],
              '']
  return '\n'.join(lines).rstrip('\n') + '\n'


def _strength_table(rows, statistics):
  """summary_by_strength.csv's rows: per strength, each score's median, quartiles and n."""
  table = []
  for b in sorted({r['strength'] for r in rows}):
    row = {'method': rows[0]['method'], 'strength': b}
    for name, entry in statistics.items():
      for field, value in entry['by_strength'].get(b, {}).items():
        row[f'{name}_{field}'] = value
    table.append(row)
  return table


def _udr_panel_title(rows, name):
  """'name (Spearman ρ = …, n models)' of UDR against the score `name` (undefined below
  `score_correlations.MIN_MODELS` models or where either takes one value)."""
  kept, rho = score_correlations.rank_correlations(rows, ['udr', name])
  count = sum(r.get('udr') is not None and r.get(name) is not None for r in rows)
  shown = f'{rho[0, 1]:.2f}' if len(kept) == 2 and np.isfinite(rho[0, 1]) else 'undefined'
  return f'{name} (Spearman ρ = {shown}, {count} models)'


def _first_seeds(rows, has):
  """{strength: the row of its first seed for which `has(row)`}, by strength."""
  first = {}
  for r in rows:
    if r['strength'] not in first and has(r):
      first[r['strength']] = r
  return dict(sorted(first.items()))


def write_figures(workdir, rows, names, statistics):
  figures, sym = os.path.join(workdir, 'figures'), symbol(rows)
  plotted = [n for n in metric_names(names) if per_strength(rows, n)]
  headline = ['recon', *(n for n in score_families.HEADLINE_SCORES if n in plotted)]
  titles = dict(score_families.HEADLINE)
  plotting.save_strength_curves(os.path.join(figures, 'strength_tradeoff.png'),
                                {n: per_strength(rows, n) for n in headline if n in plotted},
                                sym, titles)
  others = [(f'{title}: {n}', n) for title, _, held in score_families.grouped(plotted)
            for n in held if n not in headline]
  if others:
    plotting.save_strength_curves(os.path.join(figures, 'strength_tradeoff_all.png'),
                                  {n: per_strength(rows, n) for _, n in others}, sym,
                                  {n: title for title, n in others})
  variational = all(r['kl_per_dim'] for r in rows)  # A deterministic code (QLAE) has no KL.
  if variational:
    strengths = sorted({r['strength'] for r in rows})
    kl = np.array([np.median([r['kl_per_dim'] for r in rows if r['strength'] == b], axis=0)
                   for b in strengths])
    plotting.save_kl_heatmap(os.path.join(figures, 'kl_per_latent.png'), strengths, kl, sym)
  plotting.save_training_curves(
      os.path.join(figures, 'training_curves.png'),
      {f"{sym}={strength_label(r['strength'])} seed={r['seed']}":
           metric_writer.read_metrics(r['run_dir'])
       for r in rows}, names=('recon', 'kl') if variational else ('recon',))
  label = lambda r: f"{sym} = {strength_label(r['strength'])} (seed {r['seed']})"
  encoded = _first_seeds(rows, lambda r: r.get('factor_latent'))
  if encoded:
    plotting.save_factor_latent_by_strength(
        os.path.join(figures, 'factor_latent_by_strength.png'),
        {label(r): r['factor_latent'] for r in encoded.values()})
  # (a model's figure, the sweep's figure of each strength's first seed, the sweep's writer)
  animation = traversal_animation.file_name(traversal_animation.SWEEP_MODE)
  for name, combined, save in (
      ('traversals.png', 'traversals_by_strength.png', plotting.save_side_by_side),
      (animation, 'traversals_by_strength.gif', traversal_animation.save_side_by_side)):
    path = lambda r: os.path.join(r['run_dir'], 'figures', name)
    first = _first_seeds(rows, lambda r: os.path.exists(path(r)))
    if first:
      save(os.path.join(figures, combined), {label(r): path(r) for r in first.values()})
  scores = [n for n in score_families.HEADLINE_SCORES if n in statistics]
  if scores:
    plotting.save_seed_variation(
        os.path.join(figures, 'seed_variation.png'),
        {n: (per_strength(rows, n), statistics[n]['variance_between_strengths'])
         for n in scores}, sym)
  if 'udr' in scores and len(scores) > 1:
    plotting.save_udr_vs_scores(os.path.join(figures, 'udr_vs_scores.png'), rows,
                                [(n, _udr_panel_title(rows, n)) for n in scores if n != 'udr'],
                                sym)


def write_report(workdir, expected=()):
  """Writes summary.csv/.json/.md and figures/ for `workdir`; returns (rows, excluded), the
  study's `expected` run directories not begun among the excluded."""
  rows, excluded = collect(workdir, expected)
  if not rows:
    return rows, excluded
  names = columns(rows)
  statistics = score_statistics(rows, names)
  write_csv(os.path.join(workdir, 'summary.csv'), rows, names)
  by_strength = _strength_table(rows, statistics)
  write_csv(os.path.join(workdir, 'summary_by_strength.csv'), by_strength,
            list(dict.fromkeys(k for r in by_strength for k in r)))
  summary = {'rows': [{c: r.get(c) for c in names} for r in rows],
             'scores': {n: {**e, 'by_strength': {strength_label(b): v
                                                 for b, v in e['by_strength'].items()}}
                        for n, e in statistics.items()}}
  files.write_atomic(os.path.join(workdir, 'summary.json'), json.dumps(summary, indent=1) + '\n')
  files.write_atomic(os.path.join(workdir, 'summary.md'),
                     markdown(rows, names, excluded, statistics, workdir))
  write_figures(workdir, rows, names, statistics)
  score_correlations.write(workdir, rows, metric_names(names))
  if run_dirs(workdir) != [workdir]:  # A single run keeps its own HParams (vae.training.hparams).
    for r in rows:  # Scalars without HParams of their own, also in runs written before the study.
      metric_writer.rebuild_events(r['run_dir'])
    trials.write_study_hparams(os.path.join(workdir, 'runs'), [r['run_dir'] for r in rows],
                               scores={r['run_dir']: {'udr': r.get('udr')} for r in rows})
  return rows, excluded
