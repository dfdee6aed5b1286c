"""Figures a researcher looks at: image grids for reconstructions, prior samples, traversals."""

import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def _as_2d_image(image):
  image = np.asarray(image, dtype=np.float32)
  return image[..., 0] if image.shape[-1] == 1 else image


def save_image_grid(path, images, title, row_labels=None, col_labels=None):
  """Saves a [rows, cols, H, W, C] array of images in [0, 1] as one PNG."""
  images = np.clip(np.asarray(images), 0.0, 1.0)
  rows, cols = images.shape[:2]
  fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9 + 1.2, rows * 0.9 + 0.6), squeeze=False)
  for r in range(rows):
    for c in range(cols):
      ax = axes[r, c]
      ax.imshow(_as_2d_image(images[r, c]), cmap='gray', vmin=0.0, vmax=1.0)
      ax.set_xticks([])
      ax.set_yticks([])
      if row_labels is not None and c == 0:
        ax.set_ylabel(row_labels[r], rotation=0, ha='right', va='center', fontsize=7)
      if col_labels is not None and r == 0:
        ax.set_title(col_labels[c], fontsize=7)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=80)
  plt.close(fig)


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
