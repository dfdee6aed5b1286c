"""Rebuilds tables and plots from saved files: `python -m experiments.report --workdir=DIR`.

Works on a sweep (DIR/runs/*) or a single run; trains and evaluates nothing.
"""

from absl import flags

from experiments import cli
from vae import report

_WORKDIR = flags.DEFINE_string('workdir', None, 'A sweep or run directory.')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  cli.run(cli.report_and_print, report.write_report, _WORKDIR.value)


if __name__ == '__main__':
  cli.main(main)
