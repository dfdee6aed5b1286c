"""The β sweep: `python -m experiments.sweep_beta --config=experiments/configs/sweep_beta.py --workdir=DIR`.

Trains |betas| × num_seeds models in one vmapped program, scores each with the disentanglement
suite (DIR/runs/*/eval_disentanglement.json), and writes DIR/summary.{csv,json,md} and
DIR/figures/. Re-running skips finished models and resumes unfinished ones.
"""

from absl import flags
from ml_collections import config_flags

from experiments import cli
from vae.studies import sweep

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to a sweep config.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for the runs, summary and figures.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  cli.run(cli.report_and_print, sweep.run, _CONFIG.value, _WORKDIR.value)


if __name__ == '__main__':
  cli.main(main)
