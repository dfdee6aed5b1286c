"""How closely procedural dSprites matches the dSprites file, per shape and scale.

For each (shape, scale) cell, `agreement` draws orientations and positions at random, renders
them with `dsprites.render` and reads the same factors from the file, and reports the mean
intersection over union of the sprite masks and the mean fraction of equal pixels. Run it with
`python -m experiments.datasets --data_path=FILE --agreement_samples=N`.
"""

import jax
import numpy as np

from vae.data import dsprites
from vae.data.ground_truth import GroundTruthDataset


def agreement(file_dataset: GroundTruthDataset, samples_per_cell: int, key) -> list[dict]:
  """One row {shape, scale, iou, equal_pixels} per (shape, scale) of `file_dataset`'s grid."""
  num_shapes, num_scales = file_dataset.factor_sizes[:2]
  rows = []
  for shape in range(num_shapes):
    for scale in range(num_scales):
      factors = np.array(file_dataset.sample_factors(
          jax.random.fold_in(key, shape * num_scales + scale), samples_per_cell))
      factors[:, 0], factors[:, 1] = shape, scale
      from_file = np.asarray(file_dataset.observations_from_factors(factors)) > 0
      rendered = np.asarray(dsprites.render(_on_procedural_grid(file_dataset, factors))) > 0
      union = np.logical_or(from_file, rendered).sum(axis=(1, 2, 3))
      inter = np.logical_and(from_file, rendered).sum(axis=(1, 2, 3))
      rows.append(dict(shape=dsprites.SHAPE_NAMES[shape] if num_shapes == 3 else shape,
                       scale=scale, iou=float(np.mean(inter / np.maximum(union, 1))),
                       equal_pixels=float(np.mean(from_file == rendered))))
  return rows


def _on_procedural_grid(file_dataset, factors):
  """`factors` of the file's grid as indices of the procedural grid (the same for the real file).

  A smaller test grid is mapped by value: index i of n spans [0, 1] as i / (n - 1) in both.
  """
  sizes = np.asarray(file_dataset.factor_sizes)
  full = np.asarray(dsprites.FACTOR_SIZES)
  scaled = np.rint(factors * (full - 1) / np.maximum(sizes - 1, 1)).astype(np.int32)
  return np.where(sizes == full, factors, scaled).astype(np.int32)
