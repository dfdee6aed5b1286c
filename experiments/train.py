"""Trains one (β-)VAE: `python -m experiments.train --config=CONFIG.py --workdir=DIR`.

Overrides: `--config.beta=4`, `--config.method=contractive_ae` (see configs/default.py).
Re-running the same command resumes from DIR's latest checkpoint.
"""

from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import cli
from vae.training import loop

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to an ml_collections config.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for metrics, checkpoints, figures.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  metrics = cli.run(loop.train_and_evaluate, _CONFIG.value, _WORKDIR.value)
  if metrics is None:  # Another process of several wrote the model's files.
    return
  summary = '  '.join(f'{name} {metrics[name]:.3f}' for name in ('loss', 'recon', 'kl', 'elbo')
                      if name in metrics)  # An autoencoder has no kl or elbo.
  logging.info('final eval: %s (nats per example)', summary)


if __name__ == '__main__':
  cli.main(main)
