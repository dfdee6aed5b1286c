"""Figures a researcher looks at: image grids (reconstructions, samples, traversals), β plots."""

import io
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from vae import files  # noqa: E402
from vae.methods.method import strength_label  # noqa: E402

# Every figure is saved at this resolution; its texts are at least 7 pt, which is 7/72 inch at
# any DPI, and images embedded in a figure are drawn at one pixel per pixel of theirs.
DPI = 100


def _as_2d_image(image):
  image = np.asarray(image, dtype=np.float32)
  return image[..., 0] if image.shape[-1] == 1 else image


def mosaic(images, gap=2):
  """[rows, cols, H, W, C] images as one [rows·(H+gap), cols·(W+gap), C] array on white."""
  rows, cols, height, width, channels = images.shape
  canvas = np.ones((rows * (height + gap) - gap, cols * (width + gap) - gap, channels), np.float32)
  for r in range(rows):
    for c in range(cols):
      top, left = r * (height + gap), c * (width + gap)
      canvas[top:top + height, left:left + width] = images[r, c]
  return canvas


def save_image_grid(path, images, title, row_labels=None, col_labels=None, cell=0.9):
  """Saves a [rows, cols, H, W, C] array of images in [0, 1] as one PNG, each image `cell`
  inches wide.

  The grid is drawn as one image on one axes (a subplot per cell costs seconds per figure), and
  the figure is cut to the grid and its labels: at 7 pt a label character is at most 0.065 inch.
  """
  images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
  rows, cols, height, width = images.shape[:4]
  canvas = mosaic(images)
  margin = 0.06
  left = margin + (0.065 * max(map(len, row_labels)) + 0.08 if row_labels else 0.0)
  top = 0.22 + (0.16 if col_labels else 0.0)
  # Inches per pixel of the mosaic: `cell` per image, or more where the title (9 pt, about 0.07
  # inch a character) is wider than the grid.
  inch = max(cell / (width + 2), (0.07 * len(title) - left - margin) / canvas.shape[1])
  grid_w, grid_h = canvas.shape[1] * inch, canvas.shape[0] * inch
  fig_w, fig_h = left + grid_w + margin, top + grid_h + margin
  fig = plt.figure(figsize=(fig_w, fig_h))
  ax = fig.add_axes((left / fig_w, margin / fig_h, grid_w / fig_w, grid_h / fig_h))
  ax.imshow(_as_2d_image(canvas), cmap='gray', vmin=0.0, vmax=1.0, interpolation='nearest')
  ax.set_xticks([c * (width + 2) + width / 2 for c in range(cols)] if col_labels else [])
  ax.set_yticks([r * (height + 2) + height / 2 for r in range(rows)] if row_labels else [])
  if col_labels:
    ax.set_xticklabels(col_labels, fontsize=7)
    ax.xaxis.tick_top()
  if row_labels:
    ax.set_yticklabels(row_labels, fontsize=7)
  ax.tick_params(length=0, pad=2)
  for spine in ax.spines.values():
    spine.set_visible(False)
  fig.suptitle(title, fontsize=9, y=1 - 0.04 / fig_h, va='top')
  _save(fig, path)


def save_reconstructions(path, originals, reconstructions):
  """Originals on the top row, their reconstructions below."""
  save_image_grid(path, np.stack([originals, reconstructions]), 'reconstructions (mean code)',
                  row_labels=['input', 'recon'])


def save_samples(path, samples, cols=8):
  """Prior samples E[x | z], z ~ N(0, I), laid out `cols` to a row."""
  samples = np.asarray(samples)
  rows = len(samples) // cols
  grid = samples[:rows * cols].reshape(rows, cols, *samples.shape[1:])
  save_image_grid(path, grid, 'samples from the prior')


def save_traversals(path, images, values, kl_per_dim):
  """One row per latent (labelled with its KL in nats), one column per traversed value."""
  row_labels = [f'z{i} KL={kl:.2f}' for i, kl in enumerate(np.asarray(kl_per_dim))]
  col_labels = [f'{v:+.1f}' for v in np.asarray(values)]
  save_image_grid(path, images, 'latent traversals', row_labels, col_labels)


def _strength_axis(ax, strengths, symbol):
  # Strengths span orders of magnitude and may include 0: symlog keeps 0 and spaces 1, 2, 4, 8.
  ax.set_xscale('symlog', linthresh=1.0)
  ax.set_xticks(strengths)
  ax.set_xticklabels([strength_label(b) for b in strengths], fontsize=7)
  ax.set_xlabel(symbol)


def grid_shape(count, max_cols=4):
  """(rows, cols) of a panel grid for `count` panels: of half of `max_cols` (rounded up) to it,
  the fewest blank panels, then the most columns."""
  widest = max(1, min(count, max_cols))
  cols = min(range(-(-widest // 2), widest + 1), key=lambda c: (-count % c, -c))
  return -(-count // cols), cols


def save_strength_curves(path, curves, symbol='β', titles=None, max_cols=4):
  """One panel per metric (titled by `titles`, else its name): the median over seeds against the
  strength, each seed as a point."""
  titles = titles or {}
  rows, cols = grid_shape(len(curves), max_cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
  for ax, (name, by_strength) in zip(axes.flat, curves.items()):
    strengths = sorted(by_strength)
    ax.plot(strengths, [np.median(by_strength[b]) for b in strengths], '-', color='C0',
            label='median')
    for b in strengths:
      ax.plot([b] * len(by_strength[b]), by_strength[b], 'o', color='C1', ms=3, alpha=0.7)
    ax.set_title(titles.get(name, name), fontsize=8)
    _strength_axis(ax, strengths, symbol)
  for ax in list(axes.flat)[len(curves):]:
    ax.axis('off')
  fig.tight_layout()
  _save(fig, path)


def save_seed_variation(path, scores, symbol='β'):
  """Each score's every seed as a point per strength, its median as a bar; the title gives the
  share of the score's variance between strengths (the rest is the seeds')."""
  rows, cols = grid_shape(len(scores), 3)
  fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
  for ax, (name, (by_strength, share)) in zip(axes.flat, scores.items()):
    strengths = sorted(by_strength)
    for i, b in enumerate(strengths):
      values = by_strength[b]
      jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
      ax.plot(i + np.asarray(jitter), values, 'o', color='C0', ms=4, alpha=0.8)
      ax.plot([i - 0.25, i + 0.25], [np.median(values)] * 2, '-', color='C3', lw=2)
    ax.set_xticks(range(len(strengths)))
    ax.set_xticklabels([strength_label(b) for b in strengths], fontsize=7)
    ax.set_xlabel(symbol)
    between = 'n/a' if share is None else f'{100 * share:.0f} %'
    ax.set_title(f'{name}\nbetween {symbol}: {between} of variance', fontsize=8)
  for ax in list(axes.flat)[len(scores):]:
    ax.axis('off')
  fig.tight_layout()
  _save(fig, path)


def save_kl_heatmap(path, strengths, kl_per_latent, symbol='β'):
  """KL per latent (sorted within each strength, largest first) against the strength: which
  latents stay active."""
  ordered = -np.sort(-np.asarray(kl_per_latent), axis=1)
  fig, ax = plt.subplots(figsize=(max(4.0, 1.5 + 0.6 * len(strengths)), 3.6))
  image = ax.imshow(ordered.T, aspect='auto', cmap='viridis')
  fig.colorbar(image, ax=ax, label='KL (nats)')
  ax.set_xticks(range(len(strengths)))
  ax.set_xticklabels([strength_label(b) for b in strengths])
  ax.set_xlabel(symbol)
  ax.set_ylabel('latent, sorted by KL')
  ax.set_title('KL per latent (eval, median over seeds)', fontsize=8)
  fig.tight_layout()
  _save(fig, path)


def save_correlation_heatmap(path, names, matrix, title):
  """A symmetric matrix of correlations in [−1, 1] over `names`, each cell written."""
  # 0.42 inch cells hold '-0.00' at 7 pt; a 7 pt character is about 0.06 inch wide.
  cells, labels = 0.42 * len(names), 0.3 + 0.06 * max(map(len, names))
  fig, ax = plt.subplots(figsize=(cells + labels + 0.9, cells + labels + 0.4))
  image = ax.imshow(matrix, cmap='RdBu_r', vmin=-1, vmax=1)
  fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
  ax.set_xticks(range(len(names)))
  ax.set_xticklabels(names, rotation=90, fontsize=7)
  ax.set_yticks(range(len(names)))
  ax.set_yticklabels(names, fontsize=7)
  for (i, j), value in np.ndenumerate(matrix):
    if np.isfinite(value):
      ax.text(j, i, f'{value:.2f}', ha='center', va='center', fontsize=7,
              color='white' if abs(value) > 0.6 else 'black')  # Dark cells at |ρ| near 1.
  ax.set_title(title, fontsize=8)
  fig.tight_layout()
  _save(fig, path)


def _factor_latent_panels(axes, result, title=''):
  """|Spearman ρ| and the normalized MI of each factor (rows) with each latent (columns) on the
  two `axes`, each cell written, each factor's verdict beside its row."""
  factors = result['factors']
  panels = (('|Spearman ρ|', result['abs_spearman']),
            ('I(z_j; v_k) / H(v_k)', result['normalized_mutual_information']))
  latents = len(result['abs_spearman'][0])
  for ax, (name, matrix) in zip(axes, panels):
    matrix = np.asarray(matrix)
    ax.imshow(matrix, cmap='viridis', vmin=0.0, vmax=1.0, aspect='auto')
    for (i, j), value in np.ndenumerate(matrix):
      ax.text(j, i, f'{value:.2f}', ha='center', va='center', fontsize=7,
              color='black' if value > 0.6 else 'white')
    ax.set_xticks(range(latents))
    ax.set_xticklabels([f'z{j}' for j in range(latents)], fontsize=7)
    ax.set_yticks(range(len(factors)))
    ax.set_yticklabels(factors, fontsize=7)
    ax.set_title(f'{title}{name}', fontsize=8)
  verdicts = axes[1].secondary_yaxis('right')
  verdicts.set_yticks(range(len(factors)))
  verdicts.set_yticklabels([result['encoding'][f]['verdict'] for f in factors], fontsize=7)


def _factor_latent_size(result, rows=1):
  """The figure size that gives each cell 0.55 × 0.3 inch (room for '0.00' at 7 pt)."""
  latents, factors = len(result['abs_spearman'][0]), len(result['factors'])
  return 2.6 + 1.1 * latents, rows * (0.75 + 0.3 * factors)


def save_factor_latent(path, result):
  """One model's factor × latent matrices (`_factor_latent_panels`,
  `vae.evaluation.factor_latent`)."""
  fig, axes = plt.subplots(1, 2, figsize=_factor_latent_size(result), squeeze=False)
  _factor_latent_panels(axes[0], result)
  fig.tight_layout()
  _save(fig, path)


def save_factor_latent_by_strength(path, results):
  """One row per strength ({label: one model's factor_latent result}): its two matrices."""
  first = next(iter(results.values()))
  fig, axes = plt.subplots(len(results), 2, figsize=_factor_latent_size(first, len(results)),
                           squeeze=False)
  for row, (label, result) in zip(axes, results.items()):
    _factor_latent_panels(row, result, f'{label}: ')
  fig.tight_layout()
  _save(fig, path)


def save_side_by_side(path, images, gap=12, label_height=22):
  """Saved PNGs ({label: path}) next to each other at their own pixel size, each under its
  label (shrinking them would shrink the texts drawn in them)."""
  arrays = [plt.imread(p) for p in images.values()]
  width = sum(a.shape[1] for a in arrays) + gap * (len(arrays) - 1)
  height = max(a.shape[0] for a in arrays) + label_height
  fig = plt.figure(figsize=(width / DPI, height / DPI))
  left = 0
  for label, array in zip(images, arrays):
    h, w = array.shape[:2]
    ax = fig.add_axes((left / width, (height - label_height - h) / height, w / width, h / height))
    ax.imshow(array, interpolation='nearest')
    ax.axis('off')
    fig.text((left + w / 2) / width, 1 - 4 / height, label, ha='center', va='top', fontsize=10)
    left += w + gap
  _save(fig, path)


def _save(fig, path):
  """Writes the PNG whole or not at all (rendered in memory, then `files.write_atomic`)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  png = io.BytesIO()
  fig.savefig(png, dpi=DPI, format='png')
  plt.close(fig)
  files.write_atomic(path, png.getvalue())


def save_training_curves(path, runs, names=('recon', 'kl')):
  """Each metric against the step, one line per run ({label: metrics.jsonl rows}); eval dashed."""
  fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
  for ax, name in zip(axes[0], names):
    for color, (label, rows) in enumerate(runs.items()):
      for split, style in (('train', '-'), ('eval', '--')):
        points = [(r['step'], r[name]) for r in rows if r['split'] == split]
        if points:
          ax.plot(*zip(*points), style, color=f'C{color % 10}',
                  label=f'{label} ({split})' if len(runs) < 7 or split == 'train' else None)
    ax.set_xlabel('step')
    ax.set_ylabel(f'{name} (nats)')
    ax.set_yscale('log')
    ax.set_title(name, fontsize=9)
  axes[0, -1].legend(fontsize=7)
  fig.tight_layout()
  _save(fig, path)


def _save_panels(fig, axes, count, path):
  """Saves a grid of `count` scatter panels: the legend on the first, the unused ones blank."""
  axes[0, 0].legend(fontsize=7)
  for ax in list(axes.flat)[count:]:
    ax.axis('off')
  fig.tight_layout()
  _save(fig, path)


def save_method_tradeoff(path, points, scores):
  """One panel per score against recon: a marker per method, a point per model labelled with
  its strength ({method: rows with 'strength', 'recon' and the scores}; scores: (key, title))."""
  markers = 'osD^vP*X'
  rows, cols = grid_shape(len(scores), 3)
  fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
  for ax, (name, title) in zip(axes.flat, scores):
    for i, (method, method_rows) in enumerate(points.items()):
      shown = [r for r in method_rows if r.get(name) is not None]
      ax.plot([r['recon'] for r in shown], [r[name] for r in shown], markers[i % len(markers)],
              color=f'C{i % 10}', label=method, ms=6, alpha=0.8)
      for r in shown:
        ax.annotate(strength_label(r['strength']), (r['recon'], r[name]), fontsize=7,
                    xytext=(3, 3), textcoords='offset points')
    ax.set_xlabel('recon (nats, lower is better)')
    ax.set_title(title, fontsize=9)
  _save_panels(fig, axes, len(scores), path)


def save_udr_vs_scores(path, rows, scores, symbol='β'):
  """One panel per supervised score against UDR (Duan et al. 2020's Fig. 1), a point per model
  coloured by its strength (rows: dicts with 'strength', 'udr' and the scores; scores:
  (key, title))."""
  strengths = sorted({r['strength'] for r in rows})
  panel_rows, cols = grid_shape(len(scores), 3)
  fig, axes = plt.subplots(panel_rows, cols, figsize=(4.2 * cols, 3.4 * panel_rows),
                           squeeze=False)
  for ax, (name, title) in zip(axes.flat, scores):
    for i, strength in enumerate(strengths):
      shown = [r for r in rows if r['strength'] == strength
               and r.get('udr') is not None and r.get(name) is not None]
      ax.plot([r['udr'] for r in shown], [r[name] for r in shown], 'o', color=f'C{i % 10}',
              label=f'{symbol} = {strength_label(strength)}', ms=6, alpha=0.8)
    ax.set_xlabel('UDR (unsupervised)')
    ax.set_ylabel(name)
    ax.set_title(title, fontsize=9)
  _save_panels(fig, axes, len(scores), path)
