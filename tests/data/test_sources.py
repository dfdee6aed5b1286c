"""Issue 13's sources: RGB dSprites variants, the dSprites npz file, tfds shapes3d/smallnorb."""

import subprocess
import sys

import jax
import numpy as np
import pytest
from scipy import stats

from experiments.configs import sweep_test
from experiments.configs import test as test_config
from tests import ROOT
from vae import data
from vae.data import dsprites
from vae.data import dsprites_file
from vae.data import renderer_agreement
from vae.data import tfds_sources
from vae.errors import UserInputError
from vae.studies import sweep
from vae.training import loop

VARIANTS = ('color_dsprites', 'noisy_dsprites', 'textured_dsprites')
N = 64  # Every variant test renders batches of N: one compiled renderer per variant.


def _observe(ds, factors):
  """ds's observations of factors [k * N, 5], rendered N at a time."""
  factors = np.asarray(factors, np.int32)
  return np.concatenate([np.asarray(ds.observations_from_factors(factors[i:i + N]))
                         for i in range(0, len(factors), N)])


def _masks(factors):
  """The sprite masks [n, 64, 64] of the procedural renderer (the variants' reference)."""
  return np.asarray(dsprites.render(np.asarray(factors, np.int32)))[..., 0] > 0


def _unpainted(name, images, masks):
  """The per-image nuisance field each variant paints, undone from the observation.

  color: the sprite's colour on every pixel; noisy: the noise off the sprite; textured: the
  background b everywhere (1 - obs on the sprite), per the module docstring's definitions.
  """
  m = masks[..., None]
  if name == 'textured_dsprites':
    return np.where(m, 1.0 - images, images)
  return images


def _colors(images, masks):
  """Mean RGB over the sprite's pixels, [n, 3]."""
  m = masks[..., None]
  return (images * m).sum(axis=(1, 2)) / m.sum(axis=(1, 2))


# --- procedural variants -----------------------------------------------------------------------


@pytest.mark.parametrize('name', VARIANTS)
def test_variant_shapes_ranges_and_jit(name):
  ds = data.get_dataset(name)
  assert ds.jittable and ds.has_factor_grid and ds.observation_shape == (64, 64, 3)
  assert ds.factor_sizes == dsprites.FACTOR_SIZES
  images, factors = ds.sample_with_factors(jax.random.key(0), N)
  images = np.asarray(images)
  assert images.shape == (N, 64, 64, 3) and images.dtype == np.float32
  assert images.min() >= 0 and images.max() <= 1
  # Rendering the same batch again is bit-identical, eager or inside jit.
  np.testing.assert_array_equal(ds.observations_from_factors(factors), images)
  if name == 'color_dsprites':
    jitted = jax.jit(lambda k: ds.sample_with_factors(k, N))(jax.random.key(0))
    np.testing.assert_array_equal(jitted[0], images)


def test_color_sprite_is_the_procedural_mask_in_one_colour():
  ds = data.get_dataset('color_dsprites')
  factors = np.asarray(dsprites.sample_factors(jax.random.key(1), N))
  images, masks = _observe(ds, factors), _masks(factors)
  np.testing.assert_array_equal(images.max(axis=-1) > 0, masks)  # Black off the sprite.
  colors = _colors(images, masks)
  # One colour per image: every sprite pixel equals its image's colour.
  np.testing.assert_allclose(images[masks], np.repeat(colors, masks.sum(axis=(1, 2)), 0),
                             atol=1e-5)  # The mean's float32 rounding.
  assert colors.min() >= 0.5 and colors.max() <= 1.0


def test_noisy_sprite_is_white_on_the_procedural_mask():
  ds = data.get_dataset('noisy_dsprites')
  factors = np.asarray(dsprites.sample_factors(jax.random.key(2), N))
  images, masks = _observe(ds, factors), _masks(factors)
  assert np.all(images[masks] == 1.0)
  # Off the sprite: uniform [0, 1] noise (reference: scipy's Kolmogorov-Smirnov test).
  assert stats.kstest(images[~masks][:20_000].ravel(), 'uniform').pvalue > 1e-3


def test_textured_sprite_inverts_the_background_on_the_procedural_mask():
  ds = data.get_dataset('textured_dsprites')
  factors = np.asarray(dsprites.sample_factors(jax.random.key(3), N))
  images, masks = _observe(ds, factors), _masks(factors)
  background = _unpainted('textured_dsprites', images, masks)
  # Undoing the inversion on exactly the renderer's mask leaves a smooth texture: across the
  # sprite's edge the image jumps, the background does not.
  edge = masks[:, :, 1:] != masks[:, :, :-1]
  jump = lambda x: np.abs(x[:, :, 1:] - x[:, :, :-1]).max(axis=-1)  # noqa: E731
  assert jump(images)[edge].mean() > 4 * jump(background)[edge].mean()
  assert jump(background)[edge].mean() < 2 * jump(background)[~edge].mean()


@pytest.mark.parametrize('name', VARIANTS)
def test_variant_sprite_moves_with_position(name):
  ds = data.get_dataset(name)
  rows = np.array([[2, 3, 7, p, 16] for p in range(0, 32, 5)] +
                  [[2, 3, 7, 16, p] for p in range(0, 32, 5)], np.int32)
  images = _observe(ds, np.resize(rows, (N, 5)))[:len(rows)]
  # The sprite found in the image alone: colour non-black, noisy all-white; textured has no
  # such mark, its sprite is shown to be the renderer's mask by the edge test above.
  if name == 'color_dsprites':
    found = images.max(axis=-1) > 0
  elif name == 'noisy_dsprites':
    found = images.min(axis=-1) == 1.0
  else:
    found = _masks(rows)
  columns = [np.nonzero(f)[1].mean() for f in found]
  lines = [np.nonzero(f)[0].mean() for f in found]
  assert np.all(np.diff(columns[:7]) > 0) and np.all(np.diff(lines[7:]) > 0)


@pytest.mark.parametrize('name', VARIANTS)
def test_nuisance_varies_between_images_with_equal_factors(name):
  ds = data.get_dataset(name)
  factors = np.tile([[1, 5, 0, 16, 16]], (N, 1)).astype(np.int32)
  images, masks = _observe(ds, factors), _masks(factors)
  field = _unpainted(name, images, masks)
  # N copies of one factor tuple: N different images, pairwise.
  assert len({row.tobytes() for row in field.reshape(N, -1)}) == N
  # Changing one row's factors redraws the others' nuisance too (a hash of the whole batch).
  other = factors.copy()
  other[0, 3] = 3
  assert not np.array_equal(_observe(ds, other)[1:], images[1:])


@pytest.mark.parametrize('name', VARIANTS)
def test_nuisance_is_independent_of_the_factors(name):
  ds = data.get_dataset(name)
  n = 32 * N
  factors = np.asarray(dsprites.sample_factors(jax.random.key(4), n))
  images, masks = _observe(ds, factors), _masks(factors)
  field = _unpainted(name, images, masks)
  # One statistic per image and channel: the sprite's colour (color_dsprites), else the mean
  # of the nuisance field off the sprite.
  if name == 'color_dsprites':
    nuisance = _colors(images, masks)
    # Uniform on [0.5, 1] per channel (reference: scipy's Kolmogorov-Smirnov test).
    for c in range(3):
      assert stats.kstest(nuisance[:, c], 'uniform', args=(0.5, 0.5)).pvalue > 1e-3
  else:
    off = ~masks[..., None]
    nuisance = (field * off).sum(axis=(1, 2)) / off.sum(axis=(1, 2))
  # No factor predicts it: |Pearson r| < 4 / sqrt(n) (4 standard errors under independence),
  # and its mean is the same for every shape (reference: scipy's one-way ANOVA).
  for i in range(5):
    for c in range(3):
      assert abs(stats.pearsonr(factors[:, i], nuisance[:, c])[0]) < 4 / np.sqrt(n), (i, c)
  for c in range(3):
    groups = [nuisance[factors[:, 0] == s, c] for s in range(3)]
    assert stats.f_oneway(*groups).pvalue > 1e-3


def test_texture_from_file(tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  image = np.zeros((100, 150, 3), np.uint8)
  image[..., 0] = 255  # A red image: every background has red channel (1 + c_red) / 2.
  Image.fromarray(image).save(tmp_path / 'red.png')
  ds = data.get_dataset('textured_dsprites',
                        settings=data.DataSettings(texture_path=str(tmp_path / 'red.png')))
  factors = np.asarray(dsprites.sample_factors(jax.random.key(5), N))
  images, masks = _observe(ds, factors), _masks(factors)
  background = _unpainted('textured_dsprites', images, masks)
  assert background[..., 0].min() >= 0.5 and background[..., 1:].max() <= 0.5


def test_unreadable_texture_is_one_line(tmp_path):
  path = tmp_path / 'not_an_image.png'
  path.write_text('hello')
  with pytest.raises(UserInputError) as info:
    data.get_dataset('textured_dsprites', settings=data.DataSettings(texture_path=str(path)))
  assert str(info.value).startswith(f'--config.texture_path={path} cannot be read as an image')
  assert '\n' not in str(info.value)


# --- the dSprites npz file ---------------------------------------------------------------------

_TINY = (1, 3, 2, 2, 4, 4)  # The file's format (colour first) on a small grid.


def _tiny_file(path, sizes=_TINY, shuffle=False):
  classes = np.stack(np.unravel_index(np.arange(np.prod(sizes)), sizes), axis=1)
  if shuffle:
    classes = classes[::-1]
  full = np.asarray(dsprites.FACTOR_SIZES)
  values = np.rint(classes[:, 1:] * (full - 1) / np.maximum(np.asarray(sizes[1:]) - 1, 1))
  images = _masks(np.where(np.asarray(sizes[1:]) == full, classes[:, 1:], values)).astype(np.uint8)
  np.savez_compressed(path, imgs=images, latents_classes=classes,
                      latents_values=classes.astype(np.float64))
  return images, classes


def test_npz_rows_by_factors_inside_jit(tmp_path):
  images, classes = _tiny_file(tmp_path / 'tiny.npz')
  ds = dsprites_file.load(str(tmp_path / 'tiny.npz'), _TINY)
  assert ds.jittable and ds.factor_sizes == _TINY[1:]
  assert ds.factor_names == dsprites.FACTOR_NAMES and ds.observation_shape == (64, 64, 1)
  obs, factors = jax.jit(lambda k: ds.sample_with_factors(k, 40))(jax.random.key(6))
  # Reference: numpy's row-major ravel_multi_index over the file's six columns.
  rows = np.ravel_multi_index(np.concatenate([np.zeros((40, 1), int), factors], 1).T, _TINY)
  np.testing.assert_array_equal(np.asarray(obs)[..., 0], images[rows])
  np.testing.assert_array_equal(classes[rows, 1:], factors)
  mapped = jax.jit(jax.vmap(ds.observations_from_factors))(np.asarray(factors).reshape(4, 10, 5))
  np.testing.assert_array_equal(np.asarray(mapped).reshape(40, 64, 64), images[rows])


def test_renderer_agreement_on_a_file_rendered_by_the_renderer(tmp_path):
  _tiny_file(tmp_path / 'tiny.npz')
  ds = dsprites_file.load(str(tmp_path / 'tiny.npz'), _TINY)
  rows = renderer_agreement.agreement(ds, 16, jax.random.key(7))
  assert [(r['shape'], r['scale']) for r in rows] == [
      (s, c) for s in dsprites.SHAPE_NAMES for c in range(2)]
  # The file was rendered by the renderer: IoU 1 and every pixel equal, by construction.
  assert all(r['iou'] == 1.0 and r['equal_pixels'] == 1.0 for r in rows)


@pytest.mark.parametrize('case,problem', [
    ('missing', 'does not exist'),
    ('shape', "has 'imgs' of shape (192, 64, 64), not (737280, 64, 64)"),
    ('not_npz', 'cannot be read as an .npz file'),
])
def test_bad_npz_is_one_line_naming_data_path(tmp_path, case, problem):
  path = tmp_path / 'f.npz'
  if case == 'shape':
    _tiny_file(path)
  elif case == 'not_npz':
    path.write_text('not a zip')
  with pytest.raises(UserInputError) as info:
    data.get_dataset('dsprites_npz', settings=data.DataSettings(data_path=str(path)))
  assert str(info.value).startswith(f'--config.data_path={path} {problem}')
  assert '\n' not in str(info.value)


def test_npz_not_a_grid(tmp_path):
  _tiny_file(tmp_path / 'f.npz', shuffle=True)
  with pytest.raises(UserInputError, match='not the row-major grid'):
    dsprites_file.load(str(tmp_path / 'f.npz'), _TINY)


# --- tfds sources on mock data -------------------------------------------------------------------

tfds = pytest.importorskip('tensorflow_datasets')


class _HashOrderedShapes3d:
  """A lazy stand-in for prepared tfds shapes3d: grid key i at tfds's md5 row; image = key."""

  def __init__(self):
    row_of_key = tfds_sources._row_of_key(480_000, 'train')  # pylint: disable=protected-access
    self._key_of_row = np.argsort(row_of_key)

  def __len__(self):
    return len(self._key_of_row)

  def __getitem__(self, row):
    key = int(self._key_of_row[row])
    labels = np.unravel_index(key, (10, 10, 10, 8, 4, 15))
    names = ('floor_hue', 'wall_hue', 'object_hue', 'scale', 'shape', 'orientation')
    image = np.full((64, 64, 3), key % 251, np.uint8)
    return dict(image=image, **{f'label_{n}': int(v) for n, v in zip(names, labels)})


def test_shapes3d_mock_reads_rows_by_factor():
  fake = _HashOrderedShapes3d()
  with tfds.testing.mock_data(as_data_source_fn=lambda *a, **k: fake):
    ds = data.get_dataset('shapes3d', data_dir='/nonexistent')
  assert ds.factor_sizes == (10, 10, 10, 8, 4, 15) and not ds.jittable
  assert ds.factor_names[0] == 'floor_hue' and ds.observation_shape == (64, 64, 3)
  obs, factors = ds.sample_with_factors(jax.random.key(8), 6)
  keys = np.ravel_multi_index(np.asarray(factors).T, ds.factor_sizes)  # Reference: numpy.
  np.testing.assert_allclose(obs, np.broadcast_to((keys % 251 / 255.0)[:, None, None, None],
                                                  (6, 64, 64, 3)), rtol=1e-6)


def _smallnorb_fake(missing=0):
  """Both smallnorb splits, rows shuffled; split instances as in the real data; image = index.

  `missing` test rows are left out (then the splits are not the full grid).
  """
  sizes = (5, 10, 9, 18, 6)
  grid = np.stack(np.unravel_index(np.arange(np.prod(sizes)), sizes), axis=1)
  train_instances = (4, 6, 7, 8, 9)
  rng = np.random.default_rng(0)
  splits = {}
  for split, keep in (('train', np.isin(grid[:, 1], train_instances)),
                      ('test', ~np.isin(grid[:, 1], train_instances))):
    splits[split] = grid[keep][rng.permutation(keep.sum())]
  splits['test'] = splits['test'][missing:]

  class Split:

    def __init__(self, labels):
      self.labels = labels

    def __len__(self):
      return len(self.labels)

    def __getitem__(self, row):
      labels = self.labels[row]
      index = int(np.ravel_multi_index(labels, sizes))
      names = ('label_category', 'instance', 'label_elevation', 'label_azimuth',
               'label_lighting')
      return dict(image=np.full((96, 96, 1), index % 253, np.uint8),
                  **{n: int(v) for n, v in zip(names, labels)})

  def as_data_source(*args, **kwargs):
    return Split(splits[kwargs.get('split', args[-1] if args else None)])
  return as_data_source


def test_smallnorb_mock_rebuilds_the_grid_from_labels():
  with tfds.testing.mock_data(as_data_source_fn=_smallnorb_fake()):
    ds = data.get_dataset('smallnorb', data_dir='/nonexistent')
    obs, factors = ds.sample_with_factors(jax.random.key(9), 8)
  assert ds.factor_sizes == (5, 10, 9, 18, 6) and ds.observation_shape == (96, 96, 1)
  index = np.ravel_multi_index(np.asarray(factors).T, ds.factor_sizes)  # Reference: numpy.
  np.testing.assert_allclose(obs[:, 0, 0, 0], index % 253 / 255.0, rtol=1e-6)


def test_smallnorb_mock_missing_rows_are_rejected():
  with tfds.testing.mock_data(as_data_source_fn=_smallnorb_fake(missing=1)):
    with pytest.raises(ValueError, match='not the full grid'):
      data.get_dataset('smallnorb')


# --- end to end and bad input through the command line -----------------------------------------


def test_train_and_evaluate_on_color_dsprites(tmp_path):
  """Training, evaluation and the run's files work on an RGB variant unchanged."""
  config = test_config.get_config()
  config.dataset, config.num_train_steps = 'color_dsprites', 2
  metrics = loop.train_and_evaluate(config, str(tmp_path / 'run'))
  assert (tmp_path / 'run').exists()
  assert np.isfinite(metrics['elbo'])
  # Bernoulli cross-entropy on [0, 1] targets, summed over 64 x 64 x 3 values: at most
  # log(2) per value for an untrained decoder near p = 1/2 (reference: the closed form).
  assert 0 < metrics['recon'] < 64 * 64 * 3 * np.log(2) * 1.1


@pytest.mark.slow
def test_tiny_sweep_on_color_dsprites(tmp_path):
  """The whole sweep, disentanglement suite included (about 2 minutes on 2 CPU cores)."""
  config = sweep_test.get_config()
  config.dataset, config.betas, config.num_train_steps = 'color_dsprites', '4', 2
  rows, excluded = sweep.run(config, str(tmp_path / 'sweep'))
  assert len(rows) == 1 and not excluded
  assert np.isfinite(rows[0]['recon']) and 0 <= rows[0]['discrete_mig'] <= 1


def _bad_cases(tmp_path):
  texture = tmp_path / 'texture.jpg'
  texture.write_text('not an image')
  _tiny_file(tmp_path / 'tiny.npz')
  return {
      'unknown': (dict(dataset='foo'), "unknown dataset 'foo' (--config.dataset)"),
      'no_npz': (dict(dataset='dsprites_npz', data_path=f'{tmp_path}/no.npz'),
                 f'--config.data_path={tmp_path}/no.npz does not exist'),
      'bad_npz': (dict(dataset='dsprites_npz', data_path=f'{tmp_path}/tiny.npz'),
                  f"--config.data_path={tmp_path}/tiny.npz has 'imgs' of shape"),
      'texture': (dict(dataset='textured_dsprites', texture_path=str(texture)),
                  f'--config.texture_path={texture} cannot be read as an image'),
      'tfds': (dict(dataset='shapes3d', data_dir=str(tmp_path)),
               f'tfds build shapes3d --data_dir={tmp_path}'),
  }


@pytest.mark.parametrize('case', ['unknown', 'no_npz', 'bad_npz', 'texture', 'tfds'])
def test_bad_data_settings_write_nothing(tmp_path, case):
  settings, message = _bad_cases(tmp_path)[case]
  config = sweep_test.get_config()
  config.update(settings)
  with pytest.raises(UserInputError) as info:
    sweep.run(config, str(tmp_path / 'sweep'))
  assert message in str(info.value) and '\n' not in str(info.value)
  assert not (tmp_path / 'sweep').exists()


def test_bad_texture_on_the_command_line_is_one_line_and_non_zero(tmp_path):
  settings, message = _bad_cases(tmp_path)['texture']
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.sweep_beta', '--config=experiments/configs/sweep_test.py',
       f'--workdir={tmp_path / "sweep"}'] + [f'--config.{k}={v}' for k, v in settings.items()],
      cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 1 and result.stderr.strip() == f'error: {message}' or (
      result.stderr.strip().startswith(f'error: {message}')), result.stderr
  assert len(result.stderr.strip().splitlines()) == 1
  assert not (tmp_path / 'sweep').exists()
