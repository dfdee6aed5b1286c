"""Stop requests from SIGTERM (preemption, SLURM time limits) and SIGINT (Ctrl-C).

The entry points `install()` the handlers; the run loop polls `requested()` at its safe points
(after each fused chunk of steps, between models), saves and raises `errors.Interrupted`. A
model's finishing (log p(x), figures, GIFs, every metric of the suite) calls `stop_point`
between its stages and in the loops of the long ones, so a stop ends it within seconds: the
model stays unfinished, its final checkpoint saved, and a re-run finishes it. A second
signal while the first is being honoured exits at once: every file is written complete or not at
all, so nothing is left torn.
"""

import os
import signal
import sys

from vae.errors import Interrupted

_requested: list[int] = []


def _handle(signum, frame):
  del frame
  if _requested:
    sys.stderr.write(f'\n{signal.Signals(signum).name} again: exiting now, without saving\n')
    os._exit(128 + signum)
  _requested.append(signum)
  sys.stderr.write(f'\n{signal.Signals(signum).name}: finishing the current steps, saving a '
                   'checkpoint, then exiting (send it again to exit at once)\n')


def install():
  """Routes SIGTERM and SIGINT to the stop request (call from the main thread)."""
  _requested.clear()
  for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, _handle)


def requested() -> int | None:
  """The signal number of a pending stop request, or None."""
  return _requested[0] if _requested else None


def stop_point(what):
  """Raises `errors.Interrupted` if a stop is requested: a safe point of work that a re-run
  redoes (`what` says which, e.g. 'scoring dci')."""
  signum = requested()
  if signum:
    raise Interrupted(signum, f'{signal.Signals(signum).name}: stopped while {what}; what was '
                      'finished is saved (an unfinished model keeps its final checkpoint): re-run '
                      'the same command to go on')
