"""The reference study's methods compared: `python -m experiments.compare_methods
--config=experiments/configs/methods.py --workdir=DIR`.

Sweeps each of `config.methods` over its strengths in DIR/<method>/ (re-running resumes), and
writes DIR/methods.{csv,md} and DIR/figures/methods_tradeoff.png.
"""

import os

from absl import flags
from ml_collections import config_flags

from experiments import cli
from vae.studies import method_comparison

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to a method-comparison config.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for the sweeps, table and figure.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  workdir = _WORKDIR.value
  if cli.run(method_comparison.run, _CONFIG.value, workdir) is None:
    return  # Not process 0 of several: it writes and prints the table.
  with open(os.path.join(workdir, 'methods.md')) as f:
    print(f.read())


if __name__ == '__main__':
  cli.main(main)
