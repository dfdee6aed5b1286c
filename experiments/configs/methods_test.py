"""Tiny method comparison for the tests: every method at two strengths, a few steps.

  python -m experiments.compare_methods --config=experiments/configs/methods_test.py --workdir=DIR
"""

from experiments.configs import methods
from experiments.configs import test


def get_config():
  config = methods.get_config()
  config.update(test.get_config())  # Tiny model, steps and metric sizes.
  config.model = 'mlp'
  config.hidden = 32
  return config
