"""Runs an entry point that SIGKILLs itself at the n-th call of a chosen step of the run.

    python -m tests.kill_driver PHASE N MODULE [FLAGS...]

PHASE is one of `PHASES`: a metrics row, a checkpoint save, the final eval's log p(x), the
figures, the completion marker, a sweep's report. Nothing runs after the kill: no `finally`, no
atexit, no thread.
"""

import os
import runpy
import signal
import sys

from vae import files
from vae.evaluation import marginal_likelihood
from vae.evaluation import model_evaluation
from vae.studies import report
from vae.training import checkpoint
from vae.training import metric_writer

PHASES = {'row': (metric_writer.MetricWriter, 'write'),
          'checkpoint': (checkpoint.Checkpoints, 'save'),
          'log_px': (marginal_likelihood, 'vae_log_px'),
          'figures': (model_evaluation, 'save_figures'),
          'complete': (files, 'write_json_atomic'),
          'report': (report, 'write_report')}


def before_call(phase, n, action):
  """Makes `action()` run just before the n-th call of PHASE's function (never if n is 0)."""
  owner, name = PHASES[phase]
  original, calls = getattr(owner, name), []

  def wrapped(*args, **kwargs):
    calls.append(None)
    if len(calls) == n:
      action()
    return original(*args, **kwargs)

  setattr(owner, name, wrapped)


def run_entry_point(module, flags):
  """Runs `python -m MODULE FLAGS...` in this process."""
  sys.argv = [module, *flags]
  runpy.run_module(module, run_name='__main__')


def main():
  before_call(sys.argv[1], int(sys.argv[2]), lambda: os.kill(os.getpid(), signal.SIGKILL))
  run_entry_point(sys.argv[3], sys.argv[4:])


if __name__ == '__main__':
  main()
