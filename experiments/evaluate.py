"""Scores a finished run with the disentanglement suite: `python -m experiments.evaluate --workdir=DIR`.

Writes DIR/eval_disentanglement.json (mean and sampled representations), DIR/factor_latent.md
and DIR/figures/factor_latent.png. For a sweep, pass one of its `runs/<method>_<v>_seed_<s>`
directories. --chen_mig and --elbo_decomposition add Chen et al. 2018's whole-grid quantities to a
run trained without them (`python -m experiments.report --workdir=SWEEP` then rebuilds its summary).
"""

import functools

from absl import flags
from absl import logging

from experiments import cli
from vae.evaluation import suite
from vae.training import run_directory

_WORKDIR = flags.DEFINE_string('workdir', None, 'A run directory written by experiments.train.')
_CHEN_MIG = flags.DEFINE_bool('chen_mig', None, "Chen et al. 2018's MIG over the whole factor "
                               'grid (default: the run config\'s choice).')
_ELBO_DECOMPOSITION = flags.DEFINE_bool(
    'elbo_decomposition', None, "Chen et al. 2018's index-code MI, total correlation and "
    "dimension-wise KL over the whole grid (default: the run config's choice).")
_AGGREGATE_SAMPLES = flags.DEFINE_integer(
    'aggregate_samples', None, 'Samples of z per entropy estimate of those two (default: the '
    "run config's, else 10,000 as Chen et al.).")
flags.mark_flags_as_required(['workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  overrides = {name: flag.value for name, flag in (
      ('chen_mig', _CHEN_MIG), ('elbo_decomposition', _ELBO_DECOMPOSITION),
      ('aggregate_samples', _AGGREGATE_SAMPLES)) if flag.value is not None}
  results = cli.run(functools.partial(run_directory.evaluate_run, **overrides), _WORKDIR.value)
  scalars = {**results['mean'], **{name: value for name, value in
                                    results.get('aggregate_posterior', {}).items()
                                    if isinstance(value, float)}}
  for name, value in sorted(scalars.items()):
    logging.info('%-40s %.4f', name, value)
  logging.info('wrote %s/%s in %.1f s', _WORKDIR.value, suite.RESULT_FILE, results['seconds'])


if __name__ == '__main__':
  cli.main(main)
