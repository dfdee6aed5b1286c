"""The original dSprites file (`dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`), read with numpy.

No TensorFlow and no tfds: `np.load` reads the file's 'imgs' (uint8 [737280, 64, 64], 0/1) and
'latents_classes' (int [737280, 6]: colour, shape, scale, orientation, pos_x, pos_y) once into
host memory (2.8 GiB for the real file); an observation is the row `factors · strides`. The
constant colour factor (size 1) is dropped: the factors are `dsprites.FACTOR_NAMES`, in the
file's order.

The dataset is jittable through `jax.pure_callback`: inside `jit` the rows are computed on the
device and only the selected uint8 images come from the host. A device array closed over by
`jit` would instead be embedded in every compiled program (measured with jax 0.10.2 on CPU: a
200 MB array gave a 400 MB HLO module and 12 s to compile), and the interface passes factors only.

The file is checked when loaded: its arrays' shapes, and that 'latents_classes' is the
row-major grid of the factor sizes (`check_grid`, which takes the sizes so that a test can use
a tiny grid in the same format). A missing or wrong file is a one-line UserInputError naming
--config.data_path.
"""

from __future__ import annotations

import functools
import math
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

from vae.data import dsprites
from vae.data import ground_truth
from vae.data.ground_truth import GroundTruthDataset
from vae.errors import UserInputError

FILE_NAME = 'dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz'
FILE_FACTOR_SIZES = (1, *dsprites.FACTOR_SIZES)  # Colour first, as in the file.


def _error(path, problem) -> UserInputError:
  return UserInputError(f'--config.data_path={path} {problem} (want the dSprites file '
                        f'{FILE_NAME})')


def check_grid(path, images, latents_classes, sizes=FILE_FACTOR_SIZES) -> None:
  """Raises unless `images` [N, 64, 64] and `latents_classes` [N, F] are the row-major grid."""
  count = math.prod(sizes)
  if images.shape != (count, *dsprites.IMAGE_SHAPE[:2]):
    raise _error(path, f"has 'imgs' of shape {images.shape}, not "
                       f'{(count, *dsprites.IMAGE_SHAPE[:2])}')
  if latents_classes.shape != (count, len(sizes)):
    raise _error(path, f"has 'latents_classes' of shape {latents_classes.shape}, not "
                       f'{(count, len(sizes))}')
  # Row r of a row-major grid has the factors np.unravel_index(r, sizes).
  grid = np.stack(np.unravel_index(np.arange(count), sizes), axis=1)
  if not np.array_equal(latents_classes, grid):
    raise _error(path, f"has 'latents_classes' that are not the row-major grid of {sizes}")


def _read(path):
  try:
    with np.load(path) as arrays:
      return arrays['imgs'], arrays['latents_classes']
  except FileNotFoundError:
    raise _error(path, 'does not exist') from None
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise _error(path, f"cannot be read as an .npz file ({' '.join(str(e).split())})") from None
  except (KeyError, TypeError):  # TypeError: a plain .npy array, not a mapping of arrays.
    raise _error(path, "has no 'imgs' and 'latents_classes' arrays") from None


def _observations(images, sizes, factors):
  """float32 [n, 64, 64, 1] (0/1) of factor indices [n, F - 1] (the colour index is 0)."""
  rows = ground_truth.factors_to_index(factors, sizes)
  shape = jax.ShapeDtypeStruct((*rows.shape, *images.shape[1:]), images.dtype)
  # 'expand_dims': under vmap the callback gets the rows with a batch axis; indexing handles it.
  picked = jax.pure_callback(lambda r: images[np.asarray(r)], shape, rows,
                             vmap_method='expand_dims')
  return picked[..., None].astype(jnp.float32)


@functools.cache
def load(path: str, sizes=FILE_FACTOR_SIZES) -> GroundTruthDataset:
  """The dSprites file at `path` as a jittable GroundTruthDataset (loaded once per process)."""
  if not path:
    raise UserInputError(f'--config.dataset=dsprites_npz needs --config.data_path=PATH of '
                         f'{FILE_NAME}')
  images, latents_classes = _read(path)
  check_grid(path, images, latents_classes, sizes)
  factor_sizes = tuple(sizes[1:])
  return GroundTruthDataset(
      name='dsprites_npz',
      factor_names=dsprites.FACTOR_NAMES,
      factor_sizes=factor_sizes,
      observation_shape=dsprites.IMAGE_SHAPE,
      sample_factors=functools.partial(ground_truth.uniform_factors, factor_sizes),
      observations_from_factors=functools.partial(_observations, images, factor_sizes),
      jittable=True,
  )

