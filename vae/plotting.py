"""Figures a researcher looks at: image grids (reconstructions, samples, traversals), β plots."""

import io
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from vae import files  # noqa: E402


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


def save_image_grid(path, images, title, row_labels=None, col_labels=None):
  """Saves a [rows, cols, H, W, C] array of images in [0, 1] as one PNG.

  The grid is drawn as one image on one axes (a subplot per cell costs seconds per figure).
  """
  images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
  rows, cols, height, width = images.shape[:4]
  fig, ax = plt.subplots(figsize=(cols * 0.9 + 1.2, rows * 0.9 + 0.6))
  ax.imshow(_as_2d_image(mosaic(images)), cmap='gray', vmin=0.0, vmax=1.0,
            interpolation='nearest')
  ax.set_xticks([c * (width + 2) + width / 2 for c in range(cols)] if col_labels else [])
  ax.set_yticks([r * (height + 2) + height / 2 for r in range(rows)] if row_labels else [])
  if col_labels:
    ax.set_xticklabels(col_labels, fontsize=7)
    ax.xaxis.tick_top()
  if row_labels:
    ax.set_yticklabels(row_labels, fontsize=7)
  ax.tick_params(length=0)
  for spine in ax.spines.values():
    spine.set_visible(False)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
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
  ax.set_xticklabels([f'{b:g}' for b in strengths], fontsize=7)
  ax.set_xlabel(symbol)


def save_strength_curves(path, curves, symbol='β', cols=4):
  """One panel per metric: the median over seeds against the strength, each seed as a point."""
  rows = -(-len(curves) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
  for ax, (name, by_strength) in zip(axes.flat, curves.items()):
    strengths = sorted(by_strength)
    ax.plot(strengths, [np.median(by_strength[b]) for b in strengths], '-', color='C0',
            label='median')
    for b in strengths:
      ax.plot([b] * len(by_strength[b]), by_strength[b], 'o', color='C1', ms=3, alpha=0.7)
    ax.set_title(name, fontsize=8)
    _strength_axis(ax, strengths, symbol)
  for ax in list(axes.flat)[len(curves):]:
    ax.axis('off')
  fig.tight_layout()
  _save(fig, path)


def save_seed_variation(path, scores, symbol='β', cols=3):
  """Each score's every seed as a point per strength, its median as a bar; the title gives the
  share of the score's variance between strengths (the rest is the seeds')."""
  rows = -(-len(scores) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
  for ax, (name, (by_strength, share)) in zip(axes.flat, scores.items()):
    strengths = sorted(by_strength)
    for i, b in enumerate(strengths):
      values = by_strength[b]
      jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
      ax.plot(i + np.asarray(jitter), values, 'o', color='C0', ms=4, alpha=0.8)
      ax.plot([i - 0.25, i + 0.25], [np.median(values)] * 2, '-', color='C3', lw=2)
    ax.set_xticks(range(len(strengths)))
    ax.set_xticklabels([f'{b:g}' for b in strengths], fontsize=7)
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
  ax.set_xticklabels([f'{b:g}' for b in strengths])
  ax.set_xlabel(symbol)
  ax.set_ylabel('latent, sorted by KL')
  ax.set_title('KL per latent (eval, median over seeds)', fontsize=8)
  fig.tight_layout()
  _save(fig, path)


def save_correlation_heatmap(path, names, matrix, title):
  """A symmetric matrix of correlations in [−1, 1] over `names`, each cell written."""
  size = 1.2 + 0.45 * len(names)
  fig, ax = plt.subplots(figsize=(size + 1.5, size))
  image = ax.imshow(matrix, cmap='RdBu_r', vmin=-1, vmax=1)
  fig.colorbar(image, ax=ax, shrink=0.8)
  ax.set_xticks(range(len(names)))
  ax.set_xticklabels(names, rotation=90, fontsize=6)
  ax.set_yticks(range(len(names)))
  ax.set_yticklabels(names, fontsize=6)
  for (i, j), value in np.ndenumerate(matrix):
    if np.isfinite(value):
      ax.text(j, i, f'{value:.2f}', ha='center', va='center', fontsize=4)
  ax.set_title(title, fontsize=8)
  fig.tight_layout()
  _save(fig, path)


def save_factor_latent(path, result):
  """|Spearman ρ| and the normalized MI of each factor (rows) with each latent (columns), each
  cell written, each factor's verdict beside its row (`vae.evaluation.factor_latent`)."""
  factors = result['factors']
  panels = (('|Spearman ρ|', result['abs_spearman']),
            ('I(z_j; v_k) / H(v_k)', result['normalized_mutual_information']))
  latents = len(result['abs_spearman'][0])
  fig, axes = plt.subplots(1, 2, figsize=(2.4 + 1.1 * latents, 0.9 + 0.45 * len(factors)),
                           squeeze=False)
  for ax, (title, matrix) in zip(axes[0], panels):
    matrix = np.asarray(matrix)
    ax.imshow(matrix, cmap='viridis', vmin=0.0, vmax=1.0, aspect='auto')
    for (i, j), value in np.ndenumerate(matrix):
      ax.text(j, i, f'{value:.2f}', ha='center', va='center', fontsize=6,
              color='black' if value > 0.6 else 'white')
    ax.set_xticks(range(latents))
    ax.set_xticklabels([f'z{j}' for j in range(latents)], fontsize=7)
    ax.set_yticks(range(len(factors)))
    ax.set_yticklabels(factors, fontsize=7)
    ax.set_title(title, fontsize=8)
  verdicts = axes[0][1].secondary_yaxis('right')
  verdicts.set_yticks(range(len(factors)))
  verdicts.set_yticklabels([result['encoding'][f]['verdict'] for f in factors], fontsize=7)
  fig.tight_layout()
  _save(fig, path)


def save_side_by_side(path, images):
  """Saved PNGs ({label: path}) next to each other, each under its label."""
  fig, axes = plt.subplots(1, len(images), figsize=(4.5 * len(images), 5), squeeze=False)
  for ax, (label, image_path) in zip(axes[0], images.items()):
    ax.imshow(plt.imread(image_path))
    ax.set_title(label)
    ax.axis('off')
  fig.tight_layout()
  _save(fig, path)


def _save(fig, path):
  """Writes the PNG whole or not at all (rendered in memory, then `files.write_atomic`)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  png = io.BytesIO()
  fig.savefig(png, dpi=80, format='png')
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
  axes[0, -1].legend(fontsize=6)
  fig.tight_layout()
  _save(fig, path)


def _save_panels(fig, axes, count, path):
  """Saves a grid of `count` scatter panels: the legend on the first, the unused ones blank."""
  axes[0, 0].legend(fontsize=7)
  for ax in list(axes.flat)[count:]:
    ax.axis('off')
  fig.tight_layout()
  _save(fig, path)


def save_method_tradeoff(path, points, scores, cols=2):
  """One panel per score against recon: a marker per method, a point per model labelled with
  its strength ({method: rows with 'strength', 'recon' and the scores}; scores: (key, title))."""
  markers = 'osD^vP*X'
  rows = -(-len(scores) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
  for ax, (name, title) in zip(axes.flat, scores):
    for i, (method, method_rows) in enumerate(points.items()):
      shown = [r for r in method_rows if r.get(name) is not None]
      ax.plot([r['recon'] for r in shown], [r[name] for r in shown], markers[i % len(markers)],
              color=f'C{i % 10}', label=method, ms=6, alpha=0.8)
      for r in shown:
        ax.annotate(f"{r['strength']:g}", (r['recon'], r[name]), fontsize=6,
                    xytext=(3, 3), textcoords='offset points')
    ax.set_xlabel('recon (nats, lower is better)')
    ax.set_title(title, fontsize=9)
  _save_panels(fig, axes, len(scores), path)


def save_udr_vs_scores(path, rows, scores, symbol='β', cols=3):
  """One panel per supervised score against UDR (Duan et al. 2020's Fig. 1), a point per model
  coloured by its strength (rows: dicts with 'strength', 'udr' and the scores; scores:
  (key, title))."""
  strengths = sorted({r['strength'] for r in rows})
  panel_rows = -(-len(scores) // cols)
  fig, axes = plt.subplots(panel_rows, cols, figsize=(4.2 * cols, 3.4 * panel_rows),
                           squeeze=False)
  for ax, (name, title) in zip(axes.flat, scores):
    for i, strength in enumerate(strengths):
      shown = [r for r in rows if r['strength'] == strength
               and r.get('udr') is not None and r.get(name) is not None]
      ax.plot([r['udr'] for r in shown], [r[name] for r in shown], 'o', color=f'C{i % 10}',
              label=f'{symbol} = {strength:g}', ms=6, alpha=0.8)
    ax.set_xlabel('UDR (unsupervised)')
    ax.set_ylabel(name)
    ax.set_title(title, fontsize=9)
  _save_panels(fig, axes, len(scores), path)
