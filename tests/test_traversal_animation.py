"""Animated traversals: each mode's values against closed forms, the frames' tiling against the
static traversal, GIFs read back bit for bit, panels side by side."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from experiments.configs import test as test_config
from vae import models
from vae import plotting
from vae import traversal_animation as ta
from vae.data import dsprites
from vae.training import train

KL = np.array([0.1, 0.5, 0.2, 0.3])
BY_KL = [1, 3, 2, 0]  # KL's latents, largest first (sorted by hand).


def _triangle(phase):
  """The reference's two reflections of its grid into [0, 1] as a closed form, arccos(cos(πg))/π
  (equal for the grid's range [0, 3))."""
  return np.arccos(np.cos(np.pi * phase)) / np.pi


def _reference_grid(start01, num_frames=ta.NUM_FRAMES):
  """visualize_util.cycle_interval's grid: linspace(s, s + 2, num_frames, endpoint=False),
  reflected."""
  return _triangle(np.linspace(start01, start01 + 2.0, num_frames, endpoint=False))


def _posteriors(seed=0, count=64, latents=3):
  rng = np.random.default_rng(seed)
  return rng.normal(0.3, 1.2, (count, latents)), rng.normal(-1.0, 0.5, (count, latents))


@pytest.mark.parametrize('mode', ta.MODES)
def test_each_mode_gives_a_value_per_frame_latent_and_example(mode):
  means, logvars = _posteriors()
  values = ta.mode_values(mode, means, logvars)
  assert values.shape == (ta.NUM_FRAMES, 3, ta.NUM_EXAMPLES)
  assert np.isfinite(values).all()


def test_the_standard_gaussian_cycle_is_the_normal_quantiles_of_the_reference_grid():
  means, logvars = _posteriors()
  values = ta.mode_values('std_gaussian_cycle', means, logvars)
  for j in range(3):
    for e in range(ta.NUM_EXAMPLES):
      # visualize_util.cycle_gaussian: the grid from Φ(start), clipped to [0.001, 0.999].
      grid = np.clip(_reference_grid(scipy.stats.norm.cdf(means[e, j])), 0.001, 0.999)
      np.testing.assert_allclose(values[:, j, e], scipy.stats.norm.ppf(grid), atol=1e-9)
  # Frame 0 is each example's own mean (all within the clipped quantiles here).
  np.testing.assert_allclose(values[0], means[:ta.NUM_EXAMPLES].T, atol=1e-9)


def test_the_fitted_gaussian_modes_use_the_aggregate_posteriors_moments():
  means, logvars = _posteriors()
  # visualize_model.py: loc the means' average, variance E[σ²] + Var[μ] (the mixture's).
  loc = means.mean(0)
  scale = np.sqrt(np.exp(logvars).mean(0) + means.var(0))
  cycle = ta.mode_values('fitted_gaussian_cycle', means, logvars)
  conf = ta.mode_values('conf_interval_cycle', means, logvars)
  for j in range(3):
    low, high = loc[j] - 2 * scale[j], loc[j] + 2 * scale[j]
    for e in range(ta.NUM_EXAMPLES):
      start = means[e, j]
      grid = np.clip(_reference_grid(scipy.stats.norm.cdf(start, loc[j], scale[j])), 0.001, 0.999)
      np.testing.assert_allclose(cycle[:, j, e], scipy.stats.norm.ppf(grid, loc[j], scale[j]),
                                 atol=1e-9)
      expected = low + _reference_grid((start - low) / (high - low)) * (high - low)
      np.testing.assert_allclose(conf[:, j, e], expected, atol=1e-12)


def test_the_fixed_interval_cycle_goes_over_minus_two_to_two_from_the_mean():
  means, logvars = _posteriors()
  values = ta.mode_values('fixed_interval_cycle', means, logvars)
  for e in range(ta.NUM_EXAMPLES):
    start = means[e, 0]
    np.testing.assert_allclose(values[:, 0, e], -2 + 4 * _reference_grid((start + 2) / 4),
                               atol=1e-12)
  np.testing.assert_allclose(values[0], means[:ta.NUM_EXAMPLES].T, atol=1e-12)


def test_a_start_outside_the_interval_still_cycles_inside_it():
  # 7 on [−2, 2] starts at 2.25 of the interval's width; the grid runs to 4.15, where the
  # reference's two reflections give values above 1 (from 3 on). The triangle wave
  # arccos(cos(πg))/π folds any g into [0, 1].
  values = ta.interval_cycle(np.array(7.0), ta.NUM_FRAMES, -2.0, 2.0)
  grid = 2.25 + 2.0 * np.arange(ta.NUM_FRAMES) / ta.NUM_FRAMES
  np.testing.assert_allclose(values, -2 + 4 * _triangle(grid), atol=1e-12)
  assert values.min() >= -2.0 and values.max() <= 2.0


def test_the_min_max_cycle_spans_exactly_the_encoded_means_range():
  means, logvars = _posteriors()
  # Example 0 holds every latent's smallest mean, example 1 the largest: their cycles start at
  # an end of the range and reach the other at frame NUM_FRAMES / 2.
  means[0], means[1] = means.min(0) - 0.5, means.max(0) + 0.5
  values = ta.mode_values('minmax_interval_cycle', means, logvars)
  np.testing.assert_allclose(values.min(axis=(0, 2)), means.min(0), rtol=1e-12)
  np.testing.assert_allclose(values.max(axis=(0, 2)), means.max(0), rtol=1e-12)
  half = ta.NUM_FRAMES // 2
  np.testing.assert_allclose(values[half, :, 0], means.max(0), rtol=1e-12)
  np.testing.assert_allclose(values[half, :, 1], means.min(0), rtol=1e-12)


def test_a_latent_whose_means_are_all_equal_stays_at_its_mean():
  means, logvars = _posteriors()
  means[:, 2] = 0.25
  values = ta.mode_values('minmax_interval_cycle', means, logvars)
  assert (values[:, 2] == 0.25).all()


def test_codes_set_one_latent_per_row_in_kl_order():
  base = np.arange(8.0).reshape(2, 4)  # 2 examples, 4 latents
  values = -np.arange(3 * 4 * 2, dtype=float).reshape(3, 4, 2) - 1
  codes = ta.traversal_codes(base, values, BY_KL)
  assert codes.shape == (3, 4, 2, 4)
  for f in range(3):
    for r, j in enumerate(BY_KL):
      for e in range(2):
        expected = base[e].copy()
        expected[j] = values[f, j, e]
        np.testing.assert_array_equal(codes[f, r, e], expected)


@pytest.fixture(scope='module')
def vae():
  config = test_config.get_config()
  model = train.create_model(config, dsprites.IMAGE_SHAPE)
  state = train.create_train_state(jax.random.key(0), config, model, dsprites.IMAGE_SHAPE)
  images = dsprites.sample(jax.random.key(1), 16)
  return state.model, state.params, jnp.asarray(images)


@pytest.mark.parametrize('mode', ta.MODES)
def test_frames_tile_latents_by_examples(vae, mode):
  model, params, images = vae
  frames = ta.frames(model, params, images, KL, mode)
  side = 64 + 2  # dSprites' 64 pixels and the mosaic's 2-pixel gap
  assert frames.shape == (ta.NUM_FRAMES, 4 * side - 2, ta.NUM_EXAMPLES * side - 2)
  assert frames.dtype == np.uint8


def test_the_first_frame_is_the_static_traversal_at_the_same_values(vae, tmp_path):
  model, params, images = vae
  mode = 'fixed_interval_cycle'
  ta.save_animations(str(tmp_path), model, params, images, KL)
  written = ta.read_frames(str(tmp_path / ta.file_name(mode)))[..., 0]
  means, logvars = model.apply({'params': params}, images[:ta.NUM_FIT], method='encode')
  values = ta.mode_values(mode, means, logvars)
  # Frame 0 holds every latent near its mean; a quarter cycle on, each row shows its own latent
  # moved, so the rows' KL order shows too.
  for frame in (0, ta.NUM_FRAMES // 4):
    # The static traversal (VAE.traverse, as traversals.png) of example e at the frame's values:
    # its cell (j, j) has latent j at its value in the frame, the others at the mean.
    static = [model.apply({'params': params}, images[e:e + 1], jnp.asarray(values[frame, :, e]),
                          method=models.VAE.traverse) for e in range(ta.NUM_EXAMPLES)]
    grid = np.stack([np.stack([np.asarray(s[j, j]) for s in static]) for j in BY_KL])
    expected = np.round(np.clip(plotting.mosaic(grid), 0.0, 1.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(written[frame], expected[..., 0], err_msg=f'frame {frame}')


def test_a_gif_reads_back_bit_for_bit_with_every_frame(tmp_path):
  rng = np.random.default_rng(0)
  frames = rng.integers(0, 256, (ta.NUM_FRAMES, 10, 12), dtype=np.uint8)
  frames[5] = frames[4]  # Pillow merges equal neighbours into one longer frame.
  frames[6] = frames[4]
  path = str(tmp_path / 'a.gif')
  ta.write_gif(path, frames)
  back = ta.read_frames(path)
  assert back.shape == (ta.NUM_FRAMES, 10, 12, 3)
  for channel in range(3):
    np.testing.assert_array_equal(back[..., channel], frames)


def test_side_by_side_puts_each_animation_under_its_label():
  rng = np.random.default_rng(1)
  short = rng.integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
  long = rng.integers(0, 256, (4, 7, 3, 3), dtype=np.uint8)
  canvas = ta.side_by_side({'β = 1': short, 'β = 8': long})
  assert canvas.shape == (4, ta.LABEL_HEIGHT + 7, 6 + ta.PANEL_GAP + 3, 3)
  body = canvas[:, ta.LABEL_HEIGHT:]
  np.testing.assert_array_equal(body[:, :5, :6], short[[0, 1, 0, 1]])  # the shorter repeats
  np.testing.assert_array_equal(body[:, :, 6 + ta.PANEL_GAP:], long)
  assert (body[:, 5:, :6] == 255).all() and (body[:, :, 6:6 + ta.PANEL_GAP] == 255).all()
  assert (canvas[:, :ta.LABEL_HEIGHT] < 255).any()  # The labels are drawn.
