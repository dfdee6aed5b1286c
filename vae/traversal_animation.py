"""Animated latent traversals: each latent of a few encoded examples cycled through a range of
values, written as GIFs, and a sweep's animations side by side.

A frame tiles decoder outputs as the static traversal does (`plotting.mosaic`): one row per
latent, largest KL first, one column per example. Every other latent keeps the example's mean.
The five modes are disentanglement_lib's (`visualize/visualize_model.py`, `visualize_util.py`),
each a single back-and-forth cycle of `NUM_FRAMES` frames that starts at the example's own mean:

    std_gaussian_cycle      the quantiles of N(0, 1), from the mean's, up to 0.999, down to 0.001
    fitted_gaussian_cycle   the same for N(loc, scale²) fitted to the encoded examples: loc the
                            means' average, scale² the average variance plus the means' variance
    fixed_interval_cycle    linearly over [−2, 2]
    conf_interval_cycle     linearly over loc ± 2·scale of the fitted Gaussian
    minmax_interval_cycle   linearly over [min, max] of the encoded means

The fitted modes' statistics come from the first `NUM_FIT` images (the reference's 64); the
first `NUM_EXAMPLES` of them are animated. Where a start lies outside its interval (a mean beyond
[−2, 2]) the reference's two reflections can leave the interval; here the cycle is the triangle
wave, which never does. Grayscale frames are 8-bit and a GIF's palette holds them exactly; colour
frames get Pillow's adaptive palette. Pillow merges a frame equal to the one before into it (a
longer duration), so `read_frames` expands frames by their durations.
"""

import functools
import io
import os

import jax
import numpy as np
import scipy.stats
from matplotlib import font_manager
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont
from PIL import ImageSequence

from vae import files
from vae import plotting

MODES = ('std_gaussian_cycle', 'fitted_gaussian_cycle', 'fixed_interval_cycle',
         'conf_interval_cycle', 'minmax_interval_cycle')
SWEEP_MODE = 'fitted_gaussian_cycle'  # The mode a sweep shows side by side.
NUM_FRAMES = 20
FRAME_MS = 100  # The reference's 10 frames per second.
NUM_FIT = 64
NUM_EXAMPLES = 4
FIXED_INTERVAL = (-2.0, 2.0)
QUANTILE_BOUNDS = (0.001, 0.999)  # ppf(0) and ppf(1) are infinite.
LABEL_HEIGHT = 16
PANEL_GAP = 8


def file_name(mode):
  """A model's GIF of `mode` under its figures directory."""
  return f'traversals_{mode}.gif'


def _triangle(phase):
  """The triangle wave of period 2 through 0 at 0 and 1 at 1: one cycle out and back."""
  return 1.0 - np.abs(1.0 - np.mod(phase, 2.0))


def _cycle_phases(start, num_frames):
  """[num_frames, *start.shape] positions in [0, 1] of one cycle that starts at `start`."""
  steps = 2.0 * np.arange(num_frames) / num_frames
  return _triangle(np.asarray(start)[None] + steps.reshape(-1, *[1] * np.ndim(start)))


def gaussian_cycle(start, num_frames, loc=0.0, scale=1.0):
  """Values through the quantiles of N(loc, scale²), from `start`'s quantile, one cycle."""
  probability = scipy.stats.norm.cdf(start, loc=loc, scale=scale)
  phases = np.clip(_cycle_phases(probability, num_frames), *QUANTILE_BOUNDS)
  return scipy.stats.norm.ppf(phases, loc=loc, scale=scale)


def interval_cycle(start, num_frames, low, high):
  """Values linearly over [low, high] from `start`, one cycle (`low` throughout where
  low = high)."""
  width = np.asarray(high) - np.asarray(low)
  start01 = (np.asarray(start) - low) / np.where(width > 0, width, 1.0)
  return low + _cycle_phases(start01, num_frames) * width


def fitted_gaussian(means, logvars):
  """Each latent's loc and scale of one Gaussian over the encoded examples' posteriors."""
  total_variance = np.mean(np.exp(logvars), axis=0) + np.var(means, axis=0)
  return np.mean(means, axis=0), np.sqrt(total_variance)


def mode_values(mode, means, logvars, num_examples=NUM_EXAMPLES, num_frames=NUM_FRAMES):
  """[num_frames, latents, num_examples]: the value latent j takes in frame f for example e,
  from the [N, latents] encoded means and log-variances (the examples are the first ones)."""
  means, logvars = np.asarray(means, np.float64), np.asarray(logvars, np.float64)
  start = means[:num_examples].T
  loc, scale = (v[:, None] for v in fitted_gaussian(means, logvars))
  if mode == 'std_gaussian_cycle':
    return gaussian_cycle(start, num_frames)
  if mode == 'fitted_gaussian_cycle':
    return gaussian_cycle(start, num_frames, loc, scale)
  if mode == 'fixed_interval_cycle':
    return interval_cycle(start, num_frames, *FIXED_INTERVAL)
  if mode == 'conf_interval_cycle':
    return interval_cycle(start, num_frames, loc - 2 * scale, loc + 2 * scale)
  if mode == 'minmax_interval_cycle':
    return interval_cycle(start, num_frames, means.min(0)[:, None], means.max(0)[:, None])
  raise ValueError(f'unknown traversal animation mode {mode!r}; one of {MODES}')


def traversal_codes(base, values, order):
  """[frames, rows, examples, latents] codes: example e's code `base[e]` with latent `order[r]`
  set to `values[f, order[r], e]` in row r."""
  order = np.asarray(order)
  codes = np.broadcast_to(base, (values.shape[0], len(order), *base.shape)).copy()
  rows = np.arange(len(order))
  codes[:, rows, :, order] = np.moveaxis(values[:, order, :], 0, 1)
  return codes


def to_frame(images):
  """A [rows, cols, H, W, C] grid of images in [0, 1] as one 8-bit frame (the static
  traversal's tiling)."""
  canvas = plotting.mosaic(np.clip(np.asarray(images, np.float32), 0.0, 1.0))
  frame = np.round(canvas * 255.0).astype(np.uint8)
  return frame[..., 0] if frame.shape[-1] == 1 else frame


def _decoded_mean(module, codes):
  """E[x | z] of each code z, as the figures show it."""
  return module.likelihood.mean(module.decode(codes))


# One compiled program per model and shape: run op by op, the decoder's ops compile one by one
# (seconds per model on a CPU).
@functools.partial(jax.jit, static_argnums=0)
def _encoded(model, params, images):
  return model.apply({'params': params}, images, method='encode')


@functools.partial(jax.jit, static_argnums=0)
def _decoded(model, params, codes):
  return model.apply({'params': params}, codes, method=_decoded_mean)


def frames(model, params, images, kl_per_dim, mode, num_examples=NUM_EXAMPLES,
           num_frames=NUM_FRAMES):
  """[num_frames, height, width(, 3)] 8-bit frames of `mode` for a VAE: rows are latents by KL
  (largest first), columns the first `num_examples` of `images[:NUM_FIT]`."""
  means, logvars = (np.asarray(a) for a in _encoded(model, params, images[:NUM_FIT]))
  values = mode_values(mode, means, logvars, num_examples, num_frames)
  order = np.argsort(-np.asarray(kl_per_dim), kind='stable')
  codes = traversal_codes(means[:num_examples], values, order).astype(means.dtype)
  decoded = np.asarray(_decoded(model, params, codes.reshape(-1, codes.shape[-1])))
  decoded = decoded.reshape(*codes.shape[:3], *decoded.shape[1:])
  return np.stack([to_frame(grid) for grid in decoded])


def write_gif(path, frame_array, frame_ms=FRAME_MS):
  """Writes [frames, H, W] (gray) or [frames, H, W, 3] uint8 frames as a looping GIF, whole or
  not at all."""
  frame_array = np.asarray(frame_array, np.uint8)
  if frame_array.ndim == 4 and (frame_array == frame_array[..., :1]).all():
    frame_array = frame_array[..., 0]  # Gray RGB fits the exact 8-bit gray palette.
  pictures = [Image.fromarray(f) for f in frame_array]
  buffer = io.BytesIO()
  pictures[0].save(buffer, format='GIF', save_all=True, append_images=pictures[1:],
                   duration=frame_ms, loop=0)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  files.write_atomic(path, buffer.getvalue())


def read_frames(path, frame_ms=FRAME_MS):
  """[frames, H, W, 3] uint8: a GIF's frames, one per `frame_ms` of its durations (undoing
  Pillow's merge of equal frames)."""
  with Image.open(path) as gif:
    decoded = []
    for picture in ImageSequence.Iterator(gif):
      repeats = max(1, round(picture.info.get('duration', frame_ms) / frame_ms))
      decoded += [np.asarray(picture.convert('RGB'))] * repeats
  return np.stack(decoded)


def save_animations(figures_dir, model, params, images, kl_per_dim):
  """`figures_dir/traversals_<mode>.gif` for every mode."""
  for mode in MODES:
    write_gif(os.path.join(figures_dir, file_name(mode)),
              frames(model, params, images, kl_per_dim, mode))


def _label(text, width):
  """[LABEL_HEIGHT, width, 3] uint8: `text` in black on white."""
  picture = Image.new('RGB', (width, LABEL_HEIGHT), 'white')
  # Pillow's own font has no Greek letters; matplotlib's DejaVu Sans writes β, γ, λ.
  font = ImageFont.truetype(font_manager.findfont('DejaVu Sans'), 11)
  ImageDraw.Draw(picture).text((2, 1), text, fill='black', font=font)
  return np.asarray(picture)


def side_by_side(animations):
  """[frames, H, W, 3] uint8: the animations ({label: [frames, h, w, 3]}) next to each other,
  each under its label, `PANEL_GAP` white columns apart; shorter ones repeat."""
  panels = list(animations.values())
  count = max(len(p) for p in panels)
  height = LABEL_HEIGHT + max(p.shape[1] for p in panels)
  width = sum(p.shape[2] for p in panels) + PANEL_GAP * (len(panels) - 1)
  canvas = np.full((count, height, width, 3), 255, np.uint8)
  left = 0
  for label, panel in animations.items():
    w = panel.shape[2]
    canvas[:, :LABEL_HEIGHT, left:left + w] = _label(label, w)
    canvas[:, LABEL_HEIGHT:LABEL_HEIGHT + panel.shape[1], left:left + w] = (
        panel[np.arange(count) % len(panel)])
    left += w + PANEL_GAP
  return canvas


def save_side_by_side(path, gifs):
  """Writes the saved GIFs ({label: path}) next to each other as one GIF."""
  write_gif(path, side_by_side({label: read_frames(p) for label, p in gifs.items()}))
