"""Tests for vae.data: procedural dSprites, the dataset registry, tfds sources."""

import io

import jax
import matplotlib
import numpy as np
import pytest

from vae import data
from vae.data import dsprites
from vae.data import tfds_sources

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

SQUARE, ELLIPSE, HEART = 0, 1, 2


def _render(rows):
  return np.asarray(dsprites.render(np.asarray(rows, dtype=np.int32)))


def _centre_of_mass(image):
  """(x, y) in pixels: x is the column, y the row (downwards)."""
  rows, cols = np.nonzero(image[..., 0])
  return cols.mean(), rows.mean()


# --- procedural dSprites -----------------------------------------------------


def test_render_shape_dtype_binary():
  images = np.asarray(dsprites.sample(jax.random.key(0), 16))
  assert images.shape == (16, 64, 64, 1)
  assert images.dtype == np.float32
  assert set(np.unique(images)) <= {0.0, 1.0}
  assert (images.sum(axis=(1, 2, 3)) > 0).all()


def test_constants():
  assert dsprites.NUM_COMBINATIONS == 3 * 6 * 40 * 32 * 32 == 737_280
  assert dsprites.FACTOR_NAMES == ('shape', 'scale', 'orientation', 'pos_x',
                                   'pos_y')
  assert dsprites.IMAGE_SHAPE == (64, 64, 1)


def test_factor_values_endpoints():
  values = np.asarray(dsprites.factor_values(
      np.array([[0, 0, 0, 0, 0], [2, 5, 39, 31, 31]])))
  np.testing.assert_allclose(values[0], [0, 0.5, 0, 0, 0], atol=1e-7)
  np.testing.assert_allclose(values[1], [2, 1.0, 2 * np.pi, 1, 1], rtol=1e-6)


def test_pos_x_moves_right_and_pos_y_moves_down():
  # Image convention: x is the column (rightwards), y the row (downwards).
  for shape in (SQUARE, ELLIPSE, HEART):
    images = _render([[shape, 3, 7, p, 16] for p in range(32)])
    xs = [_centre_of_mass(im)[0] for im in images]
    assert np.all(np.diff(xs) > 0)
    images = _render([[shape, 3, 7, 16, p] for p in range(32)])
    ys = [_centre_of_mass(im)[1] for im in images]
    assert np.all(np.diff(ys) > 0)


def test_pixel_count_grows_with_scale():
  for shape in (SQUARE, ELLIPSE, HEART):
    images = _render([[shape, s, 5, 16, 16] for s in range(6)])
    assert np.all(np.diff(images.sum(axis=(1, 2, 3))) > 0)


def test_sprite_size_and_inside_image_everywhere():
  # Worst cases: scale 1, every orientation, at the four corner positions.
  rows = [[shape, 5, o, x, y] for shape in range(3) for o in range(40)
          for x in (0, 31) for y in (0, 31)]
  images = _render(rows)
  border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0],
                           images[:, :, -1]], axis=1)
  assert border.sum() == 0
  # At scale 1 a sprite spans roughly a quarter to a third of the image.
  centred = _render([[shape, 5, 0, 16, 16] for shape in range(3)])
  widths = centred[..., 0].any(axis=1).sum(axis=1)
  assert np.all((widths >= 14) & (widths <= 26)), widths


def test_orientation_zero_and_two_pi_render_identically():
  factors = np.asarray(dsprites.sample_factors(jax.random.key(1), 64))
  first, last = factors.copy(), factors.copy()
  first[:, 2], last[:, 2] = 0, 39
  np.testing.assert_array_equal(_render(first), _render(last))
  # ...but rotation is visible in between (the heart has a clear "up").
  quarter = first.copy()
  quarter[:, 2] = 10
  assert np.any(_render(first)[first[:, 0] == HEART]
                != _render(quarter)[first[:, 0] == HEART])


def test_heart_is_upside_down_at_half_turn():
  # Orientation 19.5/39 is not on the grid; 20/39 of a turn is close to pi.
  upright, flipped = _render([[HEART, 5, 0, 16, 16], [HEART, 5, 20, 16, 16]])
  # Upright: the lobes make the top half heavier than the pointed bottom.
  top, bottom = upright[:32].sum(), upright[32:].sum()
  assert top > bottom
  assert flipped[:32].sum() < flipped[32:].sum()


def test_shapes_differ():
  images = _render([[s, 5, 3, 16, 16] for s in range(3)])
  for i in range(3):
    for j in range(i + 1, 3):
      assert np.abs(images[i] - images[j]).sum() > 10


def test_sample_factors_range_and_dtype():
  factors = np.asarray(dsprites.sample_factors(jax.random.key(2), 4096))
  assert factors.shape == (4096, 5) and factors.dtype == np.int32
  assert np.all(factors >= 0)
  for i, size in enumerate(dsprites.FACTOR_SIZES):
    # Every value is hit with 4096 draws (P(miss) < 40 * (39/40)^4096).
    assert np.array_equal(np.unique(factors[:, i]), np.arange(size))


def test_index_factor_bijection():
  rng = np.random.default_rng(0)
  index = rng.integers(0, dsprites.NUM_COMBINATIONS, size=1000)
  corners = np.array([0, dsprites.NUM_COMBINATIONS - 1])
  for idx in (index, corners):
    factors = np.asarray(dsprites.index_to_factors(idx))
    np.testing.assert_array_equal(dsprites.factors_to_index(factors), idx)
    # Independent reference: numpy's row-major (C order) ravel_multi_index,
    # which is the order of the real dSprites file (shape slowest).
    np.testing.assert_array_equal(
        np.ravel_multi_index(factors.T, dsprites.FACTOR_SIZES), idx)
  np.testing.assert_array_equal(dsprites.index_to_factors(0), [0, 0, 0, 0, 0])
  np.testing.assert_array_equal(
      dsprites.index_to_factors(dsprites.NUM_COMBINATIONS - 1),
      [2, 5, 39, 31, 31])


def test_render_jittable_and_deterministic():
  key = jax.random.key(3)
  np.testing.assert_array_equal(dsprites.sample(key, 8),
                                dsprites.sample(key, 8))
  eager = dsprites.render(dsprites.sample_factors(key, 8))
  fused = jax.jit(lambda k: dsprites.render(dsprites.sample_factors(k, 8)))
  np.testing.assert_array_equal(fused(key), eager)
  assert not np.array_equal(dsprites.sample(jax.random.key(4), 8), eager)


def test_procedural_dataset_interface_inside_jit():
  ds = data.get_dataset('procedural_dsprites')
  assert ds.jittable and ds.has_factor_grid
  assert ds.observation_shape == (64, 64, 1) and ds.num_factors == 5
  obs, factors = jax.jit(lambda k: ds.sample_with_factors(k, 8))(
      jax.random.key(5))
  np.testing.assert_array_equal(obs, dsprites.render(factors))
  assert ds.sample(jax.random.key(5), 8).shape == (8, 64, 64, 1)


def test_sample_grid_png(tmp_path):
  images = np.asarray(dsprites.sample(jax.random.key(6), 32))
  fig, axes = plt.subplots(4, 8, figsize=(8, 4))
  for ax, image in zip(axes.flat, images):
    ax.imshow(image[..., 0], cmap='gray', vmin=0, vmax=1)
    ax.axis('off')
  path = tmp_path / 'procedural_dsprites.png'
  fig.savefig(path)
  plt.close(fig)
  assert path.exists() and path.stat().st_size > 0


# --- registry and errors -----------------------------------------------------


def test_unknown_dataset_name():
  with pytest.raises(ValueError) as info:
    data.get_dataset('foo')
  assert str(info.value) == (
      "unknown dataset 'foo' (--config.dataset); allowed: procedural_dsprites, color_dsprites, "
      'noisy_dsprites, textured_dsprites, dsprites_npz, dsprites, mnist, shapes3d, smallnorb')


@pytest.mark.parametrize('name', ['dsprites', 'mnist', 'shapes3d', 'smallnorb'])
def test_not_prepared_error(tmp_path, name):
  with pytest.raises(data.DataNotPreparedError) as info:
    data.get_dataset(name, data_dir=str(tmp_path))
  message = str(info.value)
  assert isinstance(info.value, ValueError)
  assert '\n' not in message
  assert f'--config.data_dir={tmp_path};' in message
  assert f'tfds build {name} --data_dir={tmp_path}' in message
  assert list(tmp_path.iterdir()) == []  # Nothing downloaded or created.


# --- tfds sources, mocked ----------------------------------------------------

tfds = pytest.importorskip('tensorflow_datasets')


def test_mnist_mock_binarized_random_rows():
  with tfds.testing.mock_data(num_examples=20):
    ds = data.get_dataset('mnist', data_dir='/nonexistent')
    source = tfds_sources.open_source('mnist', 'train')
    key = jax.random.key(7)
    images, labels = ds.sample_with_factors(key, 6)
    rows = np.asarray(jax.random.randint(key, (6,), 0, 20))
    raw = np.stack([source[int(r)]['image'] for r in rows])
    expected_labels = [source[int(r)]['label'] for r in rows]
  assert not ds.jittable and not ds.has_factor_grid
  assert ds.factor_names == ('label',) and ds.factor_sizes == (10,)
  assert images.shape == (6, 28, 28, 1) and images.dtype == np.float32
  assert labels.shape == (6, 1) and labels.dtype == np.int32
  np.testing.assert_array_equal(images, (raw / 255 > 0.5).astype(np.float32))
  np.testing.assert_array_equal(labels[:, 0], expected_labels)
  assert 0 < images.mean() < 1


class _HashOrderedDsprites:
  """A lazy stand-in for the prepared tfds dsprites split, rows in tfds order."""

  def __init__(self):
    n = dsprites.NUM_COMBINATIONS
    row_of_key = tfds_sources._row_of_key(n, 'train')  # pylint: disable=protected-access
    self._key_of_row = np.argsort(row_of_key)

  def __len__(self):
    return len(self._key_of_row)

  def __getitem__(self, row):
    factors = np.asarray(dsprites.index_to_factors(self._key_of_row[row]))
    image = _render(factors[None])[0].astype(np.uint8)
    return dict(image=image, **dict(zip(tfds_sources._DSPRITES_LABELS,  # pylint: disable=protected-access
                                        factors.tolist())))


def test_dsprites_mock_reads_rows_by_factor():
  fake = _HashOrderedDsprites()
  with tfds.testing.mock_data(as_data_source_fn=lambda *a, **k: fake):
    ds = data.get_dataset('dsprites', data_dir='/nonexistent')
  assert not ds.jittable and ds.has_factor_grid
  assert ds.factor_sizes == dsprites.FACTOR_SIZES
  obs, factors = ds.sample_with_factors(jax.random.key(8), 5)
  assert obs.shape == (5, 64, 64, 1) and obs.dtype == np.float32
  np.testing.assert_array_equal(obs, _render(factors))


def test_dsprites_mock_random_rows_are_rejected():
  # Default mock rows are random, not a factor grid: reading must fail loudly.
  with tfds.testing.mock_data(num_examples=5):
    ds = data.get_dataset('dsprites')
    with pytest.raises(ValueError, match='not the full grid'):
      ds.observations_from_factors(np.array([[2, 5, 39, 31, 31]]))


# --- tfds sources, really prepared (TF-free writer, tiny subset) ---------------


def _png(image):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(image[..., 0]).save(buffer, format='PNG')
  return buffer.getvalue()


def test_dsprites_prepared_subset_row_order(tmp_path):
  """Real tfds writer + data_source: proves rows are in md5-hash, not grid, order."""
  from tensorflow_datasets.core import registered  # pylint: disable=g-import-not-at-top
  n = 1500  # Grid indices 0..n-1: shape 0, scale 0, orientations 0..1.
  factors = np.asarray(dsprites.index_to_factors(np.arange(n)))
  images = _render(factors).astype(np.uint8)

  with registered.skip_registration():

    class TinyDsprites(tfds.builder_cls('dsprites')):  # pylint: disable=unused-variable
      name = 'dsprites'

      def _split_generators(self, dl_manager):
        return [tfds.core.SplitGenerator(name='train', gen_kwargs={})]

      def _generate_examples(self):
        # Same keys as the real builder: the grid index of each hdf5 row.
        for i in range(n):
          labels = dict(zip(tfds_sources._DSPRITES_LABELS, factors[i]))  # pylint: disable=protected-access
          values = {f'value_{k[6:]}': 0.0 for k in labels}
          yield i, dict(image=_png(images[i]), **labels, **values)

    TinyDsprites(data_dir=str(tmp_path),
                 file_format='array_record').download_and_prepare()

  source = tfds_sources.open_source('dsprites', 'train', str(tmp_path))
  labels = [[source[r][k] for k in tfds_sources._DSPRITES_LABELS]  # pylint: disable=protected-access
            for r in range(8)]
  stored = np.asarray(dsprites.factors_to_index(np.array(labels)))
  assert not np.array_equal(stored, np.arange(8))  # Not grid order...
  ds = data.get_dataset('dsprites', data_dir=str(tmp_path))
  wanted = factors[[0, 1, 777, n - 1]]
  np.testing.assert_array_equal(ds.observations_from_factors(wanted),
                                _render(wanted))  # ...but found by hash.
