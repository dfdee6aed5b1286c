"""Runs an entry point that sends itself signals during chosen fused chunks of steps.

    python -m tests.signal_driver SIGNAL CHUNK[,CHUNK...] MODULE [FLAGS...]

The signal arrives while the chunk is being trained, as a preemption notice or a Ctrl-C would.
"""

import os
import runpy
import signal
import sys

from vae.training import loop


def main():
  signum = getattr(signal, sys.argv[1])
  chunks = [int(c) for c in sys.argv[2].split(',')]
  module = sys.argv[3]
  sys.argv = [module, *sys.argv[4:]]
  run_steps, calls = loop._run_steps, []

  def run_steps_with_signals(*args, **kwargs):
    calls.append(None)
    for _ in range(chunks.count(len(calls))):
      os.kill(os.getpid(), signum)
    return run_steps(*args, **kwargs)

  loop._run_steps = run_steps_with_signals
  runpy.run_module(module, run_name='__main__')


if __name__ == '__main__':
  main()
