"""Trains one (β-)VAE: `python -m experiments.train --config=CONFIG.py --workdir=DIR`.

Overrides: `--config.beta=4`. Re-running the same command resumes from DIR's latest checkpoint.
"""

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import cli
from vae import train

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to an ml_collections config.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for metrics, checkpoints, figures.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  metrics = cli.run(train.train_and_evaluate, _CONFIG.value, _WORKDIR.value)
  logging.info('final eval: loss %.3f  recon %.3f  kl %.3f  elbo %.3f (nats per example)',
               metrics['loss'], metrics['recon'], metrics['kl'], metrics['elbo'])


if __name__ == '__main__':
  app.run(main)
