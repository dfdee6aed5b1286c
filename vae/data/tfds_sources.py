"""Real datasets read through tensorflow-datasets data sources, without TensorFlow.

`tfds.data_source` gives random access to a dataset prepared in the
`array_record` format and decodes it with numpy and PIL, so reading needs no
TensorFlow. Preparing does: `tfds build` (the CLI module imports TensorFlow)
and the image encoders of the dsprites and mnist builders both need it, so
prepare once where TensorFlow is installed, then read here. Nothing is ever
downloaded at run time (`download=False`).

These datasets live on the host: their callables return numpy arrays and the
`GroundTruthDataset` is marked `jittable=False`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Optional

import jax
import numpy as np

from vae.data import dsprites as procedural
from vae.data import ground_truth
from vae.data.ground_truth import GroundTruthDataset
from vae.errors import UserInputError

_DSPRITES_LABELS = ('label_shape', 'label_scale', 'label_orientation',
                    'label_x_position', 'label_y_position')


class DataNotPreparedError(UserInputError):
  """A tfds dataset is absent from (or not random-access in) the data_dir."""


def _shown_data_dir(data_dir: Optional[str]) -> str:
  """The data_dir tfds will actually use, for error messages."""
  if data_dir:
    return os.fspath(data_dir)
  from tensorflow_datasets.core import constants  # pylint: disable=g-import-not-at-top
  return constants.get_default_data_dir()


def _not_prepared_message(name: str, data_dir: Optional[str]) -> str:
  shown = _shown_data_dir(data_dir)
  return (f"dataset '{name}' is not prepared under --config.data_dir={shown}; "
          f'prepare it with: tfds build {name} --data_dir={shown} '
          '--file_format=array_record (tfds build needs tensorflow installed)')


def open_source(name: str, split: str, data_dir: Optional[str] = None, decoders=None):
  """Opens a prepared tfds split as a random-access sequence of example dicts.

  `decoders` is tfds's: e.g. {'image': tfds.decode.SkipDecoding()} reads labels without images.
  """
  # Imported here so that `import vae.data` stays fast for the default
  # procedural dataset.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir,
                            download=False, decoders=decoders)
  # tfds 4.9.10 reports missing data indirectly: with an explicit data_dir it
  # assumes the default TFRECORD format and raises NotImplementedError (the
  # same as for data really prepared as TFRECORD); without one it forces
  # ARRAY_RECORD and fails with KeyError on the empty split dict.
  except (NotImplementedError, KeyError, FileNotFoundError,
          AssertionError) as e:
    raise DataNotPreparedError(_not_prepared_message(name, data_dir)) from e


@functools.cache
def _row_of_key(num_rows: int, split: str) -> np.ndarray:
  """Row, in a prepared tfds split, of each generator key 0..num_rows-1.

  The tfds dsprites builder yields the hdf5 rows (which are in grid order)
  with key i for row i (datasets/dsprites/dsprites_dataset_builder.py), but
  the tfds writer does not keep that order: it sorts examples by
  md5(split name + str(key)) (core/shuffle.py, core/writer.py,
  core/hashing.py). We recompute that permutation with tfds's own hasher;
  `_check_labels` verifies it on every read.
  """
  from tensorflow_datasets.core import hashing  # pylint: disable=g-import-not-at-top
  hasher = hashing.Hasher(split)
  order = sorted(range(num_rows), key=hasher.hash_key)
  rows = np.empty(num_rows, dtype=np.int64)
  rows[np.asarray(order)] = np.arange(num_rows)
  return rows


def _read(source, rows) -> list[dict]:
  # One item at a time: works for real ArrayRecord sources and for
  # tfds.testing.mock_data, whose mocked __getitems__ is broken in 4.9.10.
  return [source[int(r)] for r in np.asarray(rows).reshape(-1)]


@dataclasses.dataclass(frozen=True)
class _Grid:
  """A tfds dataset whose rows, by generator key, are the row-major grid of its labels."""

  name: str
  factor_names: tuple[str, ...]
  labels: tuple[str, ...]  # The label features, one per factor, slowest first.
  sizes: tuple[int, ...]
  image_shape: tuple[int, ...]
  binary: bool = False  # Stored as 0/1 (dsprites; `> 0` also accepts 0/255), else 8-bit.
  split: str = 'train'  # The only split tfds defines for dsprites and shapes3d.

  def observations(self, source, factors) -> np.ndarray:
    """Reads the images of factor indices [n, F], float32 in [0, 1]."""
    factors = np.asarray(factors, dtype=np.int64).reshape(-1, len(self.sizes))
    index = np.ravel_multi_index(factors.T, self.sizes)
    row_of_key = _row_of_key(len(source), self.split)
    if index.size and index.max() >= len(row_of_key):
      raise ValueError(f'the {self.name} source has {len(row_of_key)} rows, not '
                       f'the full grid of {np.prod(self.sizes)}')
    examples = _read(source, row_of_key[index])
    labels = np.array([[ex[k] for k in self.labels] for ex in examples])
    if not np.array_equal(labels.reshape(factors.shape), factors):
      raise RuntimeError(
          f'tfds {self.name} rows are not in the expected order (md5 hash of the '
          'generator key); was the dataset prepared by another tfds version?')
    images = np.stack([ex['image'] for ex in examples]) if examples else (
        np.zeros((0, *self.image_shape), np.uint8))
    return _to_unit(images, self.binary)

  def load(self, data_dir: Optional[str]) -> GroundTruthDataset:
    source = open_source(self.name, self.split, data_dir)
    return GroundTruthDataset(
        name=self.name,
        factor_names=self.factor_names,
        factor_sizes=self.sizes,
        observation_shape=self.image_shape,
        sample_factors=functools.partial(ground_truth.uniform_factors, self.sizes),
        observations_from_factors=functools.partial(self.observations, source),
        jittable=False,
    )


def _to_unit(images, binary=False) -> np.ndarray:
  """float32 images in [0, 1] of stored uint8 ones."""
  return (images > 0).astype(np.float32) if binary else images.astype(np.float32) / 255.0


# The tfds dsprites builder yields the hdf5 rows (in grid order) with key i for row i; so does
# shapes3d's (datasets/shapes3d/shapes3d_dataset_builder.py): its 3dshapes.h5 is the row-major
# grid floor hue, wall hue, object hue, scale, shape, orientation (DeepMind's 3d-shapes README).
_DSPRITES = _Grid('dsprites', procedural.FACTOR_NAMES, _DSPRITES_LABELS, procedural.FACTOR_SIZES,
                  procedural.IMAGE_SHAPE, binary=True)
_SHAPES3D_FACTORS = ('floor_hue', 'wall_hue', 'object_hue', 'scale', 'shape', 'orientation')
_SHAPES3D = _Grid('shapes3d', _SHAPES3D_FACTORS, tuple(f'label_{f}' for f in _SHAPES3D_FACTORS),
                  (10, 10, 10, 8, 4, 15), (64, 64, 3))


def load_dsprites(data_dir: Optional[str] = None) -> GroundTruthDataset:
  """The real dSprites (tfds 'dsprites'): factors sampled, images read by grid index."""
  return _DSPRITES.load(data_dir)


def load_shapes3d(data_dir: Optional[str] = None) -> GroundTruthDataset:
  """3D Shapes (tfds 'shapes3d'): RGB [64, 64, 3] in [0, 1], images read by grid index."""
  return _SHAPES3D.load(data_dir)


# smallnorb: its splits hold disjoint instances (train 4, 6, 7, 8, 9; test 0, 1, 2, 3, 5), so
# together, as Locatello et al. (2019) use it, they are the full grid 5 x 10 x 9 x 18 x 6; the
# rows are not in grid order, so the grid is rebuilt from the labels once per load.
_SMALLNORB_FACTORS = ('category', 'instance', 'elevation', 'azimuth', 'lighting')
_SMALLNORB_LABELS = ('label_category', 'instance', 'label_elevation', 'label_azimuth',
                     'label_lighting')
_SMALLNORB_SIZES = (5, 10, 9, 18, 6)
_SMALLNORB_SPLITS = ('train', 'test')
_SMALLNORB_SHAPE = (96, 96, 1)  # 'image', the left camera's; 'image2' is not read.


def _smallnorb_grid(data_dir) -> np.ndarray:
  """[grid size, 2]: the (split, row) of each factor combination, from the labels."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  skip = {'image': tfds.decode.SkipDecoding(), 'image2': tfds.decode.SkipDecoding()}
  where, labels = [], []
  for s, split in enumerate(_SMALLNORB_SPLITS):
    source = open_source('smallnorb', split, data_dir, decoders=skip)
    examples = _read(source, np.arange(len(source)))
    labels.append(np.array([[ex[k] for k in _SMALLNORB_LABELS] for ex in examples],
                           np.int64).reshape(-1, len(_SMALLNORB_LABELS)))
    where.append(np.stack([np.full(len(source), s), np.arange(len(source))], axis=1))
  labels, where = np.concatenate(labels), np.concatenate(where)
  in_range = np.all((labels >= 0) & (labels < np.asarray(_SMALLNORB_SIZES)), axis=1)
  index = np.ravel_multi_index(labels[in_range].T, _SMALLNORB_SIZES)
  counts = np.bincount(index, minlength=np.prod(_SMALLNORB_SIZES))
  if not in_range.all() or np.any(counts != 1):
    raise ValueError('the smallnorb train and test splits are not the full grid '
                     f'{_SMALLNORB_SIZES} of {", ".join(_SMALLNORB_FACTORS)}, once each')
  grid = np.empty((len(counts), 2), np.int64)
  grid[index] = where
  return grid


def _smallnorb_observations(sources, grid, factors) -> np.ndarray:
  """The images of factor indices [n, 5], float32 [n, 96, 96, 1] in [0, 1]."""
  factors = np.asarray(factors, dtype=np.int64).reshape(-1, len(_SMALLNORB_SIZES))
  where = grid[np.ravel_multi_index(factors.T, _SMALLNORB_SIZES)]
  images = [sources[s][int(r)]['image'] for s, r in where]
  return _to_unit(np.stack(images) if images else np.zeros((0, *_SMALLNORB_SHAPE), np.uint8))


def load_smallnorb(data_dir: Optional[str] = None) -> GroundTruthDataset:
  """smallNORB (tfds 'smallnorb', both splits): grey [96, 96, 1] in [0, 1], by grid index."""
  sources = [open_source('smallnorb', split, data_dir) for split in _SMALLNORB_SPLITS]
  return GroundTruthDataset(
      name='smallnorb',
      factor_names=_SMALLNORB_FACTORS,
      factor_sizes=_SMALLNORB_SIZES,
      observation_shape=_SMALLNORB_SHAPE,
      sample_factors=functools.partial(ground_truth.uniform_factors, _SMALLNORB_SIZES),
      observations_from_factors=functools.partial(_smallnorb_observations, sources,
                                                  _smallnorb_grid(data_dir)),
      jittable=False,
  )


# Factor names and sizes of every tfds source, known before (or without) preparing it.
FACTORS = {
    'dsprites': (_DSPRITES.factor_names, _DSPRITES.sizes),
    'mnist': (('label',), (10,)),
    'shapes3d': (_SHAPES3D.factor_names, _SHAPES3D.sizes),
    'smallnorb': (_SMALLNORB_FACTORS, _SMALLNORB_SIZES),
}


def _mnist_draw(source, key, n: int) -> tuple[np.ndarray, np.ndarray]:
  """n random rows: binarized images float32 [n, 28, 28, 1], labels int32 [n, 1]."""
  rows = jax.random.randint(key, (n,), 0, len(source))
  examples = _read(source, rows)
  images = np.stack([ex['image'] for ex in examples]) if examples else (
      np.zeros((0, 28, 28, 1), np.uint8))
  labels = np.array([ex['label'] for ex in examples], dtype=np.int32)
  # Binarize by thresholding pixel / 255 at 0.5 (deterministic, not sampled).
  return (images / 255.0 > 0.5).astype(np.float32), labels.reshape(n, 1)


def load_mnist(data_dir: Optional[str] = None,
               split: str = 'train') -> GroundTruthDataset:
  """Binarized MNIST (tfds 'mnist').

  MNIST has no full factor grid (its one factor, the label, does not
  determine the image), so `sample_factors` and `observations_from_factors`
  are None and `draw(key, n)` returns random rows with their labels; use
  `dataset.sample(key, n)` for training batches.
  """
  source = open_source('mnist', split, data_dir)
  return GroundTruthDataset(
      name='mnist',
      factor_names=FACTORS['mnist'][0],
      factor_sizes=FACTORS['mnist'][1],
      observation_shape=(28, 28, 1),
      sample_factors=None,
      observations_from_factors=None,
      jittable=False,
      draw=functools.partial(_mnist_draw, source),
      num_rows=len(source),
  )
