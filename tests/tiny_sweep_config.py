"""`run_files.sweep_config()` as a config file, for the tests' processes:

  python -m experiments.sweep_beta --config=tests/tiny_sweep_config.py --workdir=DIR
"""

from tests import run_files


def get_config():
  return run_files.sweep_config()
