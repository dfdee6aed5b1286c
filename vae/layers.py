"""4×4 stride-2 convolution and transposed convolution ('SAME'), written as matrix products.

`StridedConv` and `StridedConvTranspose` hold the parameters `nn.Conv` / `nn.ConvTranspose` hold
(kernel [4, 4, in, out], bias [out], the same initializers) and compute the same functions, so
one set of weights feeds either. Why: on XLA:CPU the gradient of `lax.conv_transpose` runs far
below matmul speed, convolution gradients inside `lax.scan` (the training loop's path) are many
times slower than outside, and under `jax.vmap` over stacked models a convolution becomes a
grouped convolution while a matmul becomes a batched matmul. BUILD_NOTES.md measures it.

The math, per spatial axis (2-D is the product of two 1-D cases). Write a kernel tap t ∈ {0..3}
as t = 2d + a with d, a ∈ {0, 1}, and let xp be x zero-padded by one pixel in front.
  Convolution:  y[o] = Σ_t k[t] xp[2o + t] = Σ_{d,a} k[2d + a] s[o + d, a], where
    s[i, a] = xp[2i + a] is the space-to-depth view of xp: a 2×2 stride-1 'VALID' convolution
    of s (channels (a, c)) with w[d, (a, c)] = k[2d + a, c].
  Transposed convolution (as `lax.conv_transpose(..., 'SAME')`, no kernel flip; xp also padded
    by one pixel behind):  y[2m + a] = Σ_d k[2d + a] xp[m + a + d].  The 2×2 'VALID' convolution
    Z[j, p] = Σ_d k[2d + 1 - p] xp[j + d] computes every output phase at once (sub-pixel
    convolution); its depth-to-space view D[2j + p] = Z[j, p] is y shifted by one pixel:
    y[r] = D[r + 1] (r = 2m + a: a = 0 is D[2m + 1] = Z[m, 1], a = 1 is D[2m + 2] = Z[m + 1, 0]).
Each 2×2 convolution is one matmul: either its four shifted input windows are concatenated along
channels first, or the matmul runs on the unshifted input and its four outputs are summed
shifted. `_conv2x2` picks the side that materializes fewer numbers, from the shapes alone.

Which form a model uses is `--config.conv_impl` (`CONV_IMPLS`), resolved once by `resolve_impl`
when the model is built: 'matmul' (these layers), 'xla' (nn.Conv / nn.ConvTranspose, XLA's native
convolution, the expected winner on GPU and TPU) or 'auto' (matmul on XLA:CPU, xla elsewhere).
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from vae.errors import UserInputError

CONV_IMPLS = ('auto', 'matmul', 'xla')

_TAPS = 4  # Kernel side: twice the stride, which the rewrite above relies on.


def _pad_spatial(x, before, after):
  """Zero-pads the two spatial axes of [..., H, W, C]."""
  widths = [(0, 0)] * (x.ndim - 3) + [(before[0], after[0]), (before[1], after[1]), (0, 0)]
  return jnp.pad(x, widths)


def _split_taps(kernel):
  """[4, 4, C, O] -> [2 (dh), 2 (a), 2 (dw), 2 (b), C, O], tap t = 2d + a on each axis."""
  return kernel.reshape(2, 2, 2, 2, *kernel.shape[2:])


def _windows(x):
  """The four 2×2-shifted windows of [..., H, W, C], each [..., H-1, W-1, C], (dh, dw) order."""
  h, w = x.shape[-3:-1]
  return [x[..., dh:h - 1 + dh, dw:w - 1 + dw, :] for dh in (0, 1) for dw in (0, 1)]


def _conv2x2(x, w):
  """'VALID' 2×2 stride-1 convolution: [..., H, W, C] × [2, 2, C, O] -> [..., H-1, W-1, O]."""
  (h, wid), (c, o) = x.shape[-3:-1], w.shape[2:]
  if h * wid * o < (h - 1) * (wid - 1) * c:
    # Few output channels: one matmul gives each tap's output, then they are summed shifted.
    taps = x @ w.transpose(2, 0, 1, 3).reshape(c, 4 * o)  # Channels ordered (dh, dw, o).
    return sum(window[..., i * o:(i + 1) * o] for i, window in enumerate(_windows(taps)))
  patches = jnp.concatenate(_windows(x), axis=-1)  # Channels ordered (dh, dw, c), as in w.
  return patches @ w.reshape(4 * c, o)


def _space_to_depth(x):
  """[..., 2H, 2W, C] -> [..., H, W, 4C]: pixel (2i + a, 2j + b) to (i, j), channels (a, b, c)."""
  *batch, h, w, c = x.shape
  blocks = x.reshape(*batch, h // 2, 2, w // 2, 2, c).swapaxes(-4, -3)
  return blocks.reshape(*batch, h // 2, w // 2, 4 * c)


def _depth_to_space(x):
  """The inverse of `_space_to_depth`: [..., H, W, 4C] -> [..., 2H, 2W, C]."""
  *batch, h, w, c4 = x.shape
  blocks = x.reshape(*batch, h, w, 2, 2, c4 // 4).swapaxes(-4, -3)
  return blocks.reshape(*batch, 2 * h, 2 * w, c4 // 4)


def strided_conv(x, kernel):
  """`lax.conv` of [..., H, W, C] with a [4, 4, C, O] kernel, stride 2, 'SAME' padding."""
  (h, w), (c, o) = x.shape[-3:-1], kernel.shape[2:]
  out_h, out_w = -(-h // 2), -(-w // 2)
  # 'SAME' pads 1 in front; padding behind up to 2·out + 2 also covers odd sizes.
  xp = _pad_spatial(x, (1, 1), (2 * out_h + 1 - h, 2 * out_w + 1 - w))
  weights = _split_taps(kernel).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * c, o)
  return _conv2x2(_space_to_depth(xp), weights)


def strided_conv_transpose(x, kernel):
  """`lax.conv_transpose` of [..., H, W, C] with a [4, 4, C, O] kernel, stride 2, 'SAME'."""
  c, o = kernel.shape[2:]
  # Phase p of Z uses the taps of a = 1 - p: reverse the a and b axes.
  weights = _split_taps(kernel)[:, ::-1, :, ::-1].transpose(0, 2, 4, 1, 3, 5)
  phases = _conv2x2(_pad_spatial(x, (1, 1), (1, 1)), weights.reshape(2, 2, c, 4 * o))
  return _depth_to_space(phases)[..., 1:-1, 1:-1, :]


class _Strided4x4(nn.Module):
  """Declares the parameters as `nn.Conv` / `nn.ConvTranspose` do; subclasses define `op`."""

  features: int
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', self.kernel_init, (_TAPS, _TAPS, x.shape[-1], self.features))
    bias = self.param('bias', self.bias_init, (self.features,))
    return self.op(x, kernel) + bias


class StridedConv(_Strided4x4):
  """`nn.Conv(features, (4, 4), strides=(2, 2), padding='SAME')`, computed by matmuls."""

  def op(self, x, kernel):
    return strided_conv(x, kernel)


class StridedConvTranspose(_Strided4x4):
  """`nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding='SAME')`, by matmuls."""

  def op(self, x, kernel):
    return strided_conv_transpose(x, kernel)


def resolve_impl(impl: str, platform: str | None = None) -> str:
  """`impl` from `CONV_IMPLS` as 'matmul' or 'xla': 'auto' is matmul on the CPU only.

  `platform` is where the program runs (default: JAX's backend); a program compiled ahead of time
  for another (`vae.readiness`) names its target's.
  """
  if impl not in CONV_IMPLS:
    raise UserInputError(
        f"unknown conv_impl '{impl}' (--config.conv_impl); allowed: {', '.join(CONV_IMPLS)}")
  if impl == 'auto':
    return 'matmul' if (platform or jax.default_backend()) == 'cpu' else 'xla'
  return impl


def conv(features: int, impl: str, name: str) -> nn.Module:
  """The 4×4 stride-2 'SAME' convolution of `impl` ('matmul' or 'xla'); one parameter tree."""
  if impl == 'matmul':
    return StridedConv(features, name=name)
  return nn.Conv(features, (_TAPS, _TAPS), strides=(2, 2), padding='SAME', name=name)


def conv_transpose(features: int, impl: str, name: str) -> nn.Module:
  """The 4×4 stride-2 'SAME' transposed convolution of `impl`; one parameter tree."""
  if impl == 'matmul':
    return StridedConvTranspose(features, name=name)
  return nn.ConvTranspose(features, (_TAPS, _TAPS), strides=(2, 2), padding='SAME', name=name)
