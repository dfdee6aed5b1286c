"""Datasets with ground-truth factors: procedural dSprites (default) and tfds loaders."""

from __future__ import annotations

from typing import Optional

from vae.data import dsprites
from vae.data import tfds_sources
from vae.data.ground_truth import GroundTruthDataset
from vae.data.tfds_sources import DataNotPreparedError
from vae.errors import UserInputError

__all__ = ['DATASET_NAMES', 'DataNotPreparedError', 'GroundTruthDataset',
           'get_dataset']

# The procedural dataset needs no data_dir; tfds ones read it lazily.
_LOADERS = {
    'procedural_dsprites': lambda data_dir: dsprites.dataset(),
    'dsprites': tfds_sources.load_dsprites,
    'mnist': tfds_sources.load_mnist,
}
DATASET_NAMES = tuple(_LOADERS)


def get_dataset(name: str, data_dir: Optional[str] = None) -> GroundTruthDataset:
  """Returns the named dataset; data_dir is the tfds data directory (tfds datasets only).

  Raises:
    UserInputError (a ValueError): unknown name.
    DataNotPreparedError (a ValueError): a tfds dataset not prepared in data_dir.
  """
  if name not in _LOADERS:
    raise UserInputError(f'unknown dataset {name!r} (--config.dataset); '
                         f'allowed: {", ".join(DATASET_NAMES)}')
  return _LOADERS[name](data_dir)
