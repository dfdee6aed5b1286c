"""Tables and plots rebuilt from a workdir's saved files alone (a sweep or a single run).

Reads each finished run's `config.json` (method, strength, seed), its final eval row of
`metrics.jsonl` and, where present, `eval_disentanglement.json` (a run counts once its
`complete.json` exists) and the sweep's `udr.json` (its `udr` and `udr_spearman` columns, and
`figures/udr_vs_scores.png`: UDR against each supervised headline score); writes `summary.csv`
(a row per model), `summary_by_strength.csv` (per strength, each score's median, quartiles and
seed count), `summary.json` (both, and per score the variance share between strengths and the
best-strength test of `vae.studies.seed_statistics`),
`summary.md`, `figures/` plots, and the scores' rank correlations over the models
(`score_correlations.csv`, `figures/score_correlations.png`: `vae.studies.score_correlations`).
A sweep holds one method; its rows are grouped by strength (β, γ, λ_od or C_max). Nothing is
trained or recomputed, so the output is a pure function of the files.
"""

import csv
import glob
import io
import json
import os

import numpy as np
from absl import logging

from vae import files
from vae import methods
from vae import plotting
from vae import traversal_animation
from vae.evaluation import suite
from vae.evaluation import udr
from vae.studies import score_correlations
from vae.studies import seed_statistics
from vae.training import metric_writer
from vae.training import run_directory
from vae.training.run_directory import CONFIG_FILE

# Row fields used by plots and notes, not table columns.
_INTERNAL = ('step', 'kl_per_dim', 'run_dir', 'note', 'factor_encoding', 'skipped_metrics')
# `beta` repeats `strength` for the methods whose strength is β, so β sweeps keep their column.
LEADING_COLUMNS = ('method', 'strength', 'beta', 'seed', 'recon', 'kl', 'elbo', 'log_px',
                   'elbo_gap', 'active_latents')
# The final eval row's columns a summary shows: the ELBO's terms, log p(x), each method's own.
EVAL_COLUMNS = ('recon', 'kl', 'elbo', 'log_px', 'elbo_gap',
                *dict.fromkeys(term for method in methods.REGISTRY.values()
                               for term in method.summary_terms))
# The scores the β question is answered with, when the evaluation wrote them.
HEADLINE_SCORES = ('discrete_mig', 'chen_mig', 'factor_vae_eval_accuracy',
                   'beta_vae_eval_accuracy', 'disentanglement', 'sap_score')


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
    row['factor_encoding'] = scores.get('factor_latent', {}).get('encoding')
    row['skipped_metrics'] = scores.get('skipped_metrics', [])
  return row


def _udr_scores(workdir):
  """{run directory name: {score: value}} of the sweep's `udr.json`, or {} without one."""
  path = os.path.join(workdir, udr.RESULT_FILE)
  if not os.path.exists(path):
    return {}
  return {name: {s: entry[s] for s in udr.SCORE_NAMES.values()}
          for name, entry in files.read_json(path, 'UDR scores')['models'].items()}


def collect(workdir):
  """(rows sorted by method, strength, seed; {run_dir: why it was excluded})."""
  rows, excluded = [], {}
  udr_scores = _udr_scores(workdir)
  for run_dir in run_dirs(workdir):
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


def _fmt(value):
  return '' if value is None else (f'{value:.6g}' if isinstance(value, float) else str(value))


def write_csv(path, rows, names):
  text = io.StringIO()
  writer = csv.writer(text, lineterminator='\n')
  writer.writerow(names)
  writer.writerows([[_fmt(r.get(c)) for c in names] for r in rows])
  files.write_atomic(path, text.getvalue())


def per_strength(rows, name):
  """{strength: values of `name` over its seeds}."""
  grouped = {}
  for r in rows:
    if r.get(name) is not None:
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
    if name in HEADLINE_SCORES and len(grouped) >= 2:
      best = seed_statistics.best_strength(grouped)
      entry['best'] = {'strength': best.best, 'median': best.median,
                       'runner_up': best.runner_up, 'p_value': best.p_value,
                       'smallest_possible_p': best.smallest_p, 'min_seeds': best.min_seeds,
                       'distinguishable': best.distinguishable}
    result[name] = entry
  return result


def _share(entry):
  share = entry['variance_between_strengths']
  return '' if share is None else (f'; {100 * share:.0f} % of its variance lies between '
                                   f'strengths, {100 * (1 - share):.0f} % within (seeds)')


def _best_strength_lines(rows, statistics):
  """What the seeds say about each headline score's best strength, and its recon cost."""
  sym = symbol(rows)
  recon = {b: np.median(v) for b, v in per_strength(rows, 'recon').items()}
  tested = [(n, statistics[n]) for n in HEADLINE_SCORES if 'best' in statistics.get(n, {})]
  if not tested:
    return []
  if min(entry['best']['min_seeds'] for _, entry in tested) < 2:
    return [f'One seed per {sym}: no comparison between strengths can be made, since a '
            f'difference between two models may be seed noise alone. Rerun with '
            f'--config.num_seeds=4 or more (the fewest with which two strengths can differ '
            f'at p < {seed_statistics.ALPHA}: 2/C(8, 4) = 0.029).']
  lines = [f'Each test: Mann–Whitney U of the best {sym} (highest median) over the runner-up, '
           f'its null from relabelling every seed across {sym} values (a permutation test; '
           f'choosing the best is part of it). A {sym} is named best only at '
           f'p < {seed_statistics.ALPHA}.', '']
  for name, entry in tested:
    best = entry['best']
    b, runner = best['strength'], best['runner_up']
    if best['distinguishable']:
      cost = ''
      if recon:
        lowest = min(recon)
        cost = (f'; recon there {recon[b]:.1f} nats vs {recon[lowest]:.1f} at {sym} = '
                f'{lowest:g} ({recon[b] - recon[lowest]:+.1f})')
      lines.append(f'- {name}: best at {sym} = {b:g} (median {best["median"]:.3f}), beyond seed '
                   f'noise against {sym} = {runner:g} (p = {best["p_value"]:.3g}, n ≥ '
                   f'{best["min_seeds"]} seeds){cost}{_share(entry)}.')
    else:
      floor = best['smallest_possible_p']
      reach = (f'; at this n no table can reach p < {floor:.3g}' if floor >= seed_statistics.ALPHA
               else '')
      lines.append(f'- {name}: no {sym} is distinguishable at n = {best["min_seeds"]} seeds '
                   f'(highest median {best["median"]:.3f} at {sym} = {b:g}, runner-up {sym} = '
                   f'{runner:g}, p = {best["p_value"]:.3g}{reach}){_share(entry)}.')
  return lines


def _encoding_lines(rows):
  """One line per model: each factor's verdict and the latents that carry it."""
  lines = []
  for r in rows:
    if not r.get('factor_encoding'):
      continue
    parts = [f"{factor} {e['verdict']}" + (f" ({', '.join(f'z{j}' for j in e['latents'])})"
                                            if e['latents'] else '')
             for factor, e in r['factor_encoding'].items()]
    lines.append(f"- {os.path.basename(r['run_dir'])}: " + '; '.join(parts))
  return lines


def markdown(rows, names, excluded, statistics):
  sym, method = symbol(rows), rows[0]['method']
  strengths = sorted({r['strength'] for r in rows})
  seeds = {b: sum(r['strength'] == b for r in rows) for b in strengths}
  lines = [f'# {method} sweep summary ({sym})', '',
           'Median over seeds [interquartile range, numpy\'s linear interpolation]; a single '
           'value where one seed ran. recon, kl, elbo, log_px (the importance-weighted bound) and '
           'elbo_gap = log_px − elbo in nats per example (eval set).', '',
           '| metric | ' + ' | '.join(f'{sym} = {b:g} (n={seeds[b]})' for b in strengths) + ' |',
           '|---|' + '---|' * len(strengths)]
  for name in metric_names(names):
    grouped = per_strength(rows, name)
    lines.append(f'| {name} | ' + ' | '.join(spread_cell(grouped[b]) if b in grouped else ''
                                             for b in strengths) + ' |')
  left_out = list(dict.fromkeys(m for r in rows for m in r.get('skipped_metrics', [])))
  if left_out:
    lines += ['', f"Not computed (`--config.disentanglement.skip_metrics`, for time): "
              f"{', '.join(left_out)}."]
  best = _best_strength_lines(rows, statistics)
  if best:
    lines += ['', f'## Which {sym} disentangles best, at what reconstruction cost', '', *best]
  encodings = _encoding_lines(rows)
  if encodings:
    lines += ['', '## Which latents carry which factor (|Spearman ρ|, each run\'s '
              'factor_latent.md)', '', *encodings]
  notes = sorted((os.path.basename(r['run_dir']), r['note']) for r in rows if r.get('note'))
  if notes:
    lines += ['', '## Runs scored at an earlier step', '', *[f'- {d}: {why}' for d, why in notes]]
  if excluded:
    lines += ['', '## Excluded runs', '', *[f'- {d}: {why}' for d, why in sorted(excluded.items())]]
  return '\n'.join(lines) + '\n'


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


def write_figures(workdir, rows, names, statistics):
  figures, sym = os.path.join(workdir, 'figures'), symbol(rows)
  plotted = [n for n in metric_names(names) if per_strength(rows, n)]
  plotting.save_strength_curves(os.path.join(figures, 'strength_tradeoff.png'),
                                {n: per_strength(rows, n) for n in plotted}, sym)
  strengths = sorted({r['strength'] for r in rows})
  kl = np.array([np.median([r['kl_per_dim'] for r in rows if r['strength'] == b], axis=0)
                 for b in strengths])
  plotting.save_kl_heatmap(os.path.join(figures, 'kl_per_latent.png'), strengths, kl, sym)
  plotting.save_training_curves(
      os.path.join(figures, 'training_curves.png'),
      {f"{sym}={r['strength']:g} seed={r['seed']}": metric_writer.read_metrics(r['run_dir'])
       for r in rows})
  animation = traversal_animation.file_name(traversal_animation.SWEEP_MODE)
  # (a model's figure, the sweep's figure of each strength's first seed, the sweep's writer)
  side_by_side = (('traversals.png', 'traversals_by_strength.png', plotting.save_side_by_side),
                  ('factor_latent.png', 'factor_latent_by_strength.png',
                   plotting.save_side_by_side),
                  (animation, 'traversals_by_strength.gif', traversal_animation.save_side_by_side))
  for name, combined, save in side_by_side:
    first_seed = {}
    for r in rows:
      path = os.path.join(r['run_dir'], 'figures', name)
      if r['strength'] not in first_seed and os.path.exists(path):
        first_seed[r['strength']] = path
    if first_seed:
      save(os.path.join(figures, combined),
           {f'{sym} = {b:g}': p for b, p in sorted(first_seed.items())})
  headline = [n for n in HEADLINE_SCORES if n in statistics]
  if headline:
    plotting.save_seed_variation(
        os.path.join(figures, 'seed_variation.png'),
        {n: (per_strength(rows, n), statistics[n]['variance_between_strengths'])
         for n in headline}, sym)
  if headline and 'udr' in statistics:
    plotting.save_udr_vs_scores(os.path.join(figures, 'udr_vs_scores.png'), rows,
                                [(n, _udr_panel_title(rows, n)) for n in headline], sym)


def write_report(workdir):
  """Writes summary.csv/.json/.md and figures/ for `workdir`; returns (rows, excluded)."""
  rows, excluded = collect(workdir)
  if not rows:
    return rows, excluded
  names = columns(rows)
  statistics = score_statistics(rows, names)
  write_csv(os.path.join(workdir, 'summary.csv'), rows, names)
  by_strength = _strength_table(rows, statistics)
  write_csv(os.path.join(workdir, 'summary_by_strength.csv'), by_strength,
            list(dict.fromkeys(k for r in by_strength for k in r)))
  summary = {'rows': [{c: r.get(c) for c in names} for r in rows],
             'scores': {n: {**e, 'by_strength': {f'{b:g}': v for b, v in e['by_strength'].items()}}
                        for n, e in statistics.items()}}
  files.write_atomic(os.path.join(workdir, 'summary.json'), json.dumps(summary, indent=1) + '\n')
  files.write_atomic(os.path.join(workdir, 'summary.md'),
                     markdown(rows, names, excluded, statistics))
  write_figures(workdir, rows, names, statistics)
  score_correlations.write(workdir, rows, metric_names(names))
  return rows, excluded
