"""Background textures for textured dSprites: an image file, or a fixed procedural noise field.

A texture is float32 [H, W, 3] in [0, 1] with both sides at least the 64-pixel crop. An image
file is scaled (keeping its aspect ratio) so that its shorter side is `SHORT_SIDE` pixels, about
the size Locatello et al. (2019) use for The Scream (350 x 274), so that a 64 x 64 crop shows
structure rather than one flat patch of a large photograph.
"""

import numpy as np

from vae.errors import UserInputError

SHORT_SIDE = 274
CROP = 64

# The procedural texture: white noise low-passed by a Gaussian of this width (in pixels),
# then stretched per channel to [0, 1]. Fixed seed: every process sees the same texture.
_PROCEDURAL_SIZE = 256
_PROCEDURAL_SMOOTHING = 6.0
_PROCEDURAL_SEED = 2019


def procedural() -> np.ndarray:
  """A colourful smooth noise field, float32 [256, 256, 3] in [0, 1], the same every call."""
  noise = np.random.default_rng(_PROCEDURAL_SEED).random(
      (_PROCEDURAL_SIZE, _PROCEDURAL_SIZE, 3))
  # A Gaussian low-pass in the frequency domain: periodic, so the texture tiles seamlessly.
  freq = np.fft.fftfreq(_PROCEDURAL_SIZE)
  radius2 = freq[:, None] ** 2 + freq[None, :] ** 2
  gain = np.exp(-2.0 * (np.pi * _PROCEDURAL_SMOOTHING) ** 2 * radius2)[..., None]
  smooth = np.fft.ifft2(np.fft.fft2(noise, axes=(0, 1)) * gain, axes=(0, 1)).real
  low, high = smooth.min(axis=(0, 1)), smooth.max(axis=(0, 1))
  return ((smooth - low) / (high - low)).astype(np.float32)


def from_file(path: str) -> np.ndarray:
  """The image at `path` as an RGB texture; unreadable: a one-line UserInputError."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as image:
      image = image.convert('RGB')
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    reason = getattr(e, 'strerror', None) or ' '.join(str(e).split())
    raise UserInputError(
        f'--config.texture_path={path} cannot be read as an image: {reason}') from None
  scale = SHORT_SIDE / min(image.size)
  size = tuple(max(CROP, round(side * scale)) for side in image.size)
  image = image.resize(size, Image.Resampling.BILINEAR)
  return np.asarray(image, dtype=np.float32) / 255.0
