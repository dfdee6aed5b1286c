"""Tiny β sweep for the tests: two βs, one seed, a few steps, small metric sizes.

  python -m experiments.sweep_beta --config=experiments/configs/sweep_test.py --workdir=/tmp/sweep
"""

from experiments.configs import sweep_beta
from experiments.configs import test


def get_config():
  config = sweep_beta.get_config()
  config.update(test.get_config())  # Tiny model, steps and metric sizes.
  config.betas = '1,8'
  config.num_seeds = 1
  return config
