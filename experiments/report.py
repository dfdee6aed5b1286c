"""Rebuilds tables and plots from saved files: `python -m experiments.report --workdir=DIR`.

Works on a sweep (DIR/runs/*), a single run, or a method comparison (DIR/<method>/runs/*: each
sweep's summary, then methods.{csv,md} and its figure); trains nothing. On a study that shards
trained (DIR/shards/, `--config.shard`) it merges them (`vae.studies.sharded_report`): it also
writes the UDR, restoring and encoding only the models it has no codes of, and lists the
members not finished yet.
"""

import os

from absl import flags

from experiments import cli
from vae.studies import method_comparison
from vae.studies import report
from vae.studies import sharded_report

_WORKDIR = flags.DEFINE_string('workdir', None, 'A sweep or run directory.')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  workdir = _WORKDIR.value
  config = sharded_report.study_config(workdir)
  if config is not None:
    summary, _ = cli.run(sharded_report.write, workdir, config)
    with open(os.path.join(workdir, summary)) as f:
      print(f.read())
    return
  methods = method_comparison.compared_methods(workdir)
  if not methods:
    cli.run(cli.report_and_print, report.write_report, workdir)
    return
  for method in methods:
    cli.run(report.write_report, os.path.join(workdir, method))
  cli.run(method_comparison.write_comparison, workdir, methods)
  with open(os.path.join(workdir, 'methods.md')) as f:
    print(f.read())


if __name__ == '__main__':
  cli.main(main)
