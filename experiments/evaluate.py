"""Scores a finished run with the disentanglement suite: `python -m experiments.evaluate --workdir=DIR`.

Writes DIR/eval_disentanglement.json (mean and sampled representations). For a sweep, pass one of
its `runs/beta_vae_<β>_seed_<s>` directories.
"""

from absl import flags
from absl import logging

from experiments import cli
from vae.evaluation import suite

_WORKDIR = flags.DEFINE_string('workdir', None, 'A run directory written by experiments.train.')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  results = cli.run(suite.evaluate_run, _WORKDIR.value)
  for name, value in sorted(results['mean'].items()):
    logging.info('%-40s %.4f', name, value)
  logging.info('wrote %s/%s in %.1f s', _WORKDIR.value, suite.RESULT_FILE, results['seconds'])


if __name__ == '__main__':
  cli.main(main)
