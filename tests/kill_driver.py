"""Runs an entry point that SIGKILLs itself at the n-th call of a chosen step of the run.

    python -m tests.kill_driver PHASE N MODULE [FLAGS...]

PHASE is one of `PHASES`: a metrics row, a checkpoint save, the final eval's log p(x), the
figures, the completion marker, a sweep's report. Nothing runs after the kill: no `finally`, no atexit, no thread.
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


def main():
  owner, name = PHASES[sys.argv[1]]
  n, module, calls = int(sys.argv[2]), sys.argv[3], []
  sys.argv = [module, *sys.argv[4:]]
  original = getattr(owner, name)

  def killing(*args, **kwargs):
    calls.append(None)
    if len(calls) == n:
      os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

  setattr(owner, name, killing)
  runpy.run_module(module, run_name='__main__')


if __name__ == '__main__':
  main()
