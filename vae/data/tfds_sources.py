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

import functools
import os
from typing import Optional

import jax
import numpy as np

from vae.data import dsprites as procedural
from vae.data.ground_truth import GroundTruthDataset
from vae.errors import UserInputError

_DSPRITES_LABELS = ('label_shape', 'label_scale', 'label_orientation',
                    'label_x_position', 'label_y_position')
_DSPRITES_SPLIT = 'train'  # The only split tfds defines for dsprites.


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


def open_source(name: str, split: str, data_dir: Optional[str] = None):
  """Opens a prepared tfds split as a random-access sequence of example dicts."""
  # Imported here so that `import vae.data` stays fast for the default
  # procedural dataset.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir,
                            download=False)
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


def _check_labels(examples, factors: np.ndarray) -> None:
  labels = np.array([[ex[k] for k in _DSPRITES_LABELS] for ex in examples])
  if not np.array_equal(labels.reshape(factors.shape), factors):
    raise RuntimeError(
        'tfds dsprites rows are not in the expected order (md5 hash of the '
        'generator key); was the dataset prepared by another tfds version?')


def _dsprites_observations(source, factors) -> np.ndarray:
  """Reads the tfds dsprites images of factor indices [n, 5], float32 0/1."""
  factors = np.asarray(factors, dtype=np.int64)
  index = np.asarray(procedural.factors_to_index(factors))
  row_of_key = _row_of_key(len(source), _DSPRITES_SPLIT)
  if index.size and index.max() >= len(row_of_key):
    raise ValueError(f'the dsprites source has {len(row_of_key)} rows, not '
                     f'the full grid of {procedural.NUM_COMBINATIONS}')
  examples = _read(source, row_of_key[index])
  _check_labels(examples, factors)
  images = np.stack([ex['image'] for ex in examples]) if examples else (
      np.zeros((0, *procedural.IMAGE_SHAPE)))
  # The file stores 0/1; `> 0` also accepts a 0/255 encoding.
  return (images > 0).astype(np.float32)


def load_dsprites(data_dir: Optional[str] = None) -> GroundTruthDataset:
  """The real dSprites (tfds 'dsprites'): factors sampled, images read by grid index."""
  source = open_source('dsprites', _DSPRITES_SPLIT, data_dir)
  return GroundTruthDataset(
      name='dsprites',
      factor_names=procedural.FACTOR_NAMES,
      factor_sizes=procedural.FACTOR_SIZES,
      observation_shape=procedural.IMAGE_SHAPE,
      sample_factors=procedural.sample_factors,
      observations_from_factors=functools.partial(_dsprites_observations,
                                                  source),
      jittable=False,
  )


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
      factor_names=('label',),
      factor_sizes=(10,),
      observation_shape=(28, 28, 1),
      sample_factors=None,
      observations_from_factors=None,
      jittable=False,
      draw=functools.partial(_mnist_draw, source),
      num_rows=len(source),
  )
