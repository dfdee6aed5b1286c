"""Every dataset source: `python -m experiments.datasets [--out=DIR]`.

Prints each source's factors and sizes and whether it is ready on this machine (with the one
line that says how to make it ready), and with --out writes DIR/NAME.png, a grid of samples of
each ready source. With --agreement_samples=N and the dSprites file at --data_path, also prints
how closely procedural dSprites matches the file, per shape and scale.
"""

import os

import jax
from absl import flags

from experiments import cli
from vae import data
from vae import files
from vae import plotting
from vae.data import catalog
from vae.data import renderer_agreement
from vae.errors import UserInputError

_DATA_DIR = flags.DEFINE_string('data_dir', '', 'tfds data directory (as --config.data_dir).')
_DATA_PATH = flags.DEFINE_string('data_path', '', 'The dSprites .npz file (as --config.data_path).')
_TEXTURE_PATH = flags.DEFINE_string(
    'texture_path', '', 'Background image of textured_dsprites (as --config.texture_path).')
_OUT = flags.DEFINE_string('out', '', 'Directory for one sample grid PNG per ready source.')
_AGREEMENT = flags.DEFINE_integer('agreement_samples', 0,
                                  'Images per shape and scale compared with the dSprites file.')
_ROWS, _COLS = 2, 8


def _list(settings, out, agreement_samples):
  entries = catalog.entries(settings)
  if out:
    files.prepare_directory(out, '--out')
  for i, entry in enumerate(entries):
    factors = ', '.join(f'{n} {s}' for n, s in zip(entry.factor_names, entry.factor_sizes))
    status = 'ready' if entry.dataset else f'not ready: {entry.problem}'
    print(f'{entry.name}: {factors}; {status}')
    if entry.dataset and out:
      path = os.path.join(out, f'{entry.name}.png')
      grid = catalog.sample_grid(entry.dataset, jax.random.key(i), _ROWS, _COLS)
      plotting.save_image_grid(path, grid, f'{entry.name} {entry.dataset.observation_shape}')
      print(f'  samples: {path}')
  if agreement_samples:
    npz = next(e for e in entries if e.name == 'dsprites_npz')
    if not npz.dataset:
      raise UserInputError(f'--agreement_samples needs the dSprites file: {npz.problem}')
    for row in renderer_agreement.agreement(npz.dataset, agreement_samples, jax.random.key(0)):
      print('agreement: shape {shape} scale {scale}: IoU {iou:.3f}, equal pixels '
            '{equal_pixels:.4f}'.format(**row))


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  settings = data.DataSettings(_DATA_DIR.value or None, _DATA_PATH.value, _TEXTURE_PATH.value)
  cli.run(_list, settings, _OUT.value, _AGREEMENT.value)


if __name__ == '__main__':
  cli.main(main)
