"""Every dataset source at a glance: its factors and sizes, and whether it is ready here."""

from __future__ import annotations

import dataclasses

import numpy as np

from vae import data
from vae.data import dsprites
from vae.data import tfds_sources
from vae.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class Entry:
  """One source: its dataset when ready, else the one-line reason it is not."""

  name: str
  factor_names: tuple[str, ...]
  factor_sizes: tuple[int, ...]
  dataset: data.GroundTruthDataset | None
  problem: str | None


def _known_factors(name):
  """(names, sizes) of a source that could not be opened."""
  if name == 'dsprites_npz':
    return dsprites.FACTOR_NAMES, dsprites.FACTOR_SIZES
  return tfds_sources.FACTORS[name]


def entries(settings: data.DataSettings) -> list[Entry]:
  """One Entry per name in `data.DATASET_NAMES`, in that order."""
  found = []
  for name in data.DATASET_NAMES:
    try:
      dataset = data.get_dataset(name, settings=settings)
    except UserInputError as e:
      found.append(Entry(name, *_known_factors(name), None, str(e)))
    else:
      found.append(Entry(name, dataset.factor_names, dataset.factor_sizes, dataset, None))
  return found


def sample_grid(dataset: data.GroundTruthDataset, key, rows: int, cols: int) -> np.ndarray:
  """[rows, cols, H, W, C] observations drawn at random from `dataset`."""
  images = np.asarray(dataset.sample(key, rows * cols))
  return images.reshape(rows, cols, *images.shape[1:])
