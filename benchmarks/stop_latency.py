"""How long a stop request waits while a model is finished at the published sample sizes.

    python -m benchmarks.stop_latency --workdir=/tmp/stop_latency [--config.NAME=VALUE ...]

Trains one model of `experiments/configs/sweep_full.py` (the conv VAE, β = 1, seed 0) for 20
steps, since scoring costs the same after any number of steps, then finishes it as a sweep does:
the final eval's log p(x) with 5,000 importance samples, the figures, the traversal GIFs and the
suite at its published sizes. Every `preemption.stop_point` is timed. A stop request waits for
the next stop point, so the longest gap between two of them is the longest wait. Printed: one
line per stage (what the stop points say, in order), its stop points, its time, and its longest
gap (counted from the stop point before it), then the longest gap overall.
"""

import collections
import runpy
import sys
import time

from vae import preemption

_CONFIG = 'experiments/configs/sweep_full.py'
_ONE_SHORT_MODEL = ['--config.betas=1', '--config.num_seeds=1', '--config.models_per_step=1',
                    '--config.num_train_steps=20', '--config.log_every_steps=10',
                    '--config.eval_every_steps=20', '--config.checkpoint_every_steps=20']


def gaps(points):
  """[(stage, stop points, seconds, longest gap)] in order, from [(time, stage)]: the work after
  a stop point, until the next, is its stage's (a stop point is called before the work it
  guards: a metric, a fit, a chunk)."""
  stages = collections.OrderedDict()
  for (before, what), (now, _) in zip(points, points[1:]):
    count, spent, longest = stages.get(what, (0, 0.0, 0.0))
    stages[what] = (count + 1, spent + now - before, max(longest, now - before))
  return [(what, *values) for what, values in stages.items()]


def _time_stop_points(points):
  """Appends (time, stage) to `points` at each stop point, and (time, 'training') at each of the
  run loop's polls for a stop (`preemption.requested`, outside a stop point)."""
  stop_point, requested, inside = preemption.stop_point, preemption.requested, []

  def timed_stop_point(what):
    points.append((time.monotonic(), what))
    inside.append(what)
    try:
      stop_point(what)
    finally:
      inside.pop()

  def timed_requested():
    if not inside:
      points.append((time.monotonic(), 'training'))
    return requested()

  preemption.stop_point, preemption.requested = timed_stop_point, timed_requested


def main():
  points = []
  _time_stop_points(points)
  sys.argv = ['experiments.sweep_beta', f'--config={_CONFIG}', *_ONE_SHORT_MODEL, *sys.argv[1:]]
  try:
    runpy.run_module('experiments.sweep_beta', run_name='__main__')
  except SystemExit as e:
    if e.code:
      raise
  points.append((time.monotonic(), 'done'))
  print(f'\n{"stage":<40} {"points":>6} {"seconds":>9} {"longest gap":>12}')
  rows = gaps(points)
  for what, count, spent, longest in rows:
    print(f'{what:<40} {count:>6} {spent:>9.1f} {longest:>12.2f}')
  what, _, _, longest = max((row for row in rows if row[0] != 'training'), key=lambda r: r[3])
  print(f'\nlongest wait for a stop while finishing: {longest:.2f} s ({what})')


if __name__ == '__main__':
  main()
