"""Datasets with ground-truth factors: procedural dSprites (default), its RGB variants, the
dSprites file, and tfds loaders."""

from __future__ import annotations

import dataclasses

from vae.data import correlated
from vae.data import dsprites
from vae.data import dsprites_file
from vae.data import dsprites_variants
from vae.data import tfds_sources
from vae.data.ground_truth import GroundTruthDataset
from vae.data.tfds_sources import DataNotPreparedError
from vae.errors import UserInputError

__all__ = ['DATASET_NAMES', 'DataNotPreparedError', 'DataSettings', 'GroundTruthDataset',
           'from_config', 'get_dataset']


@dataclasses.dataclass(frozen=True)
class DataSettings:
  """Where a dataset's inputs are: --config.data_dir (tfds), data_path (the dSprites file),
  texture_path (textured_dsprites); '' or None when not given."""

  data_dir: str | None = None
  data_path: str = ''
  texture_path: str = ''


# Procedural datasets read nothing (textured_dsprites an optional image); tfds ones read lazily.
_LOADERS = {
    'procedural_dsprites': lambda s: dsprites.dataset(),
    'color_dsprites': lambda s: dsprites_variants.color_dataset(),
    'noisy_dsprites': lambda s: dsprites_variants.noisy_dataset(),
    'textured_dsprites': lambda s: dsprites_variants.textured_dataset(s.texture_path),
    'dsprites_npz': lambda s: dsprites_file.load(s.data_path),
    'dsprites': lambda s: tfds_sources.load_dsprites(s.data_dir),
    'mnist': lambda s: tfds_sources.load_mnist(s.data_dir),
    'shapes3d': lambda s: tfds_sources.load_shapes3d(s.data_dir),
    'smallnorb': lambda s: tfds_sources.load_smallnorb(s.data_dir),
}
DATASET_NAMES = tuple(_LOADERS)


def get_dataset(name: str, data_dir: str | None = None,
                settings: DataSettings | None = None) -> GroundTruthDataset:
  """Returns the named dataset; `data_dir` (or `settings`) says where its inputs are.

  Raises:
    UserInputError (a ValueError): unknown name, a missing or unreadable input file.
    DataNotPreparedError (a UserInputError): a tfds dataset not prepared in data_dir.
  """
  if name not in _LOADERS:
    raise UserInputError(f'unknown dataset {name!r} (--config.dataset); '
                         f'allowed: {", ".join(DATASET_NAMES)}')
  return _LOADERS[name](settings or DataSettings(data_dir=data_dir))


def from_config(config) -> GroundTruthDataset:
  """The dataset of `config.dataset`, its inputs from the config's data settings, its training
  factors correlated by `config.correlated_factors`."""
  dataset = get_dataset(config.dataset, settings=DataSettings(
      config.get('data_dir'), config.get('data_path', ''),
      config.get('texture_path', '')))
  return correlated.apply(dataset, config.get('correlated_factors', ''))
