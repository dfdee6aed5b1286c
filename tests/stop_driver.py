"""Runs an entry point that sends itself SIGTERM as the n-th call of a finishing phase begins.

    python -m tests.stop_driver PHASE N MODULE [FLAGS...]

PHASE is one of `PHASES`: the final eval's log p(x), the figures, the traversal GIFs, or a
metric of the suite by its name. The driver prints `STOP_AT <time>` when it signals, so a test
can time the exit.
"""

import os
import signal
import sys
import time

from tests import kill_driver
from vae import traversal_animation
from vae.evaluation import registry

STOP_AT = 'STOP_AT'
PHASES = ('log_px', 'figures', 'gifs', *(m.name for m in registry.METRICS))
kill_driver.PHASES['gifs'] = (traversal_animation, 'save_animations')


def _stop():
  print(f'{STOP_AT} {time.time()}', flush=True)
  os.kill(os.getpid(), signal.SIGTERM)


def _before_score(name, n):
  """Signals as the n-th call of metric `name`'s score begins (the metrics are frozen, and the
  suite holds them: the score is replaced in place)."""
  (metric,) = [m for m in registry.METRICS if m.name == name]
  original, calls = metric.score, []

  def score(inputs):
    calls.append(None)
    if len(calls) == n:
      _stop()
    return original(inputs)

  object.__setattr__(metric, 'score', score)


def main():
  phase, n = sys.argv[1], int(sys.argv[2])
  if phase in kill_driver.PHASES:
    kill_driver.before_call(phase, n, _stop)
  else:
    _before_score(phase, n)
  kill_driver.run_entry_point(sys.argv[3], sys.argv[4:])


if __name__ == '__main__':
  main()
