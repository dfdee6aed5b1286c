"""The autoencoder family compared: `python -m experiments.compare_autoencoders
--config=experiments/configs/autoencoders.py --workdir=DIR`.

Trains each of `config.methods` in DIR/runs/<method> (re-running resumes), measures them on the
same held-out clean and corrupted test inputs, and writes DIR/autoencoders.{csv,md} and
DIR/figures/autoencoders.png.
"""

from absl import flags
from ml_collections import config_flags

from experiments import cli
from vae.studies import autoencoder_comparison

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to a comparison config.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for the runs, table and figure.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  workdir = _WORKDIR.value
  cli.run(autoencoder_comparison.compare_autoencoders, _CONFIG.value, workdir)
  with open(f'{workdir}/autoencoders.md') as f:
    print(f.read())


if __name__ == '__main__':
  cli.main(main)
