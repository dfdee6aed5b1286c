"""The coordination service of a `jax.distributed` cluster, in a process of its own.

JAX hosts the service inside process 0. When that process dies, XLA's client in every other
process loses the service and aborts at once with a page of C++ log, before anything in Python
can name what happened. Hosted here instead, the service outlives a lost process 0 by
`OUTLIVES_S`: long enough for the survivors' liveness watch (parallel.py) to see process 0's
counter stop, and end each of them in one line.

Process 0 starts this process (`start`, from `jax.distributed.initialize`'s call for its service)
and keeps its stdin open for the run. The line 'stop' (jax's shutdown, after every client has
left) ends the service at once; end of file without it means process 0 is gone (killed, or left
with `os._exit` on an error) and starts the `OUTLIVES_S` wait. Signals to the process group
(Ctrl-C, a scheduler's SIGTERM) are ignored here: the processes of the run stop at one step and
leave the cluster in order, and process 0 then sends 'stop'.

The service's own log (C++, on stderr) goes nowhere: what a researcher needs from a run is on
the clients' side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

OUTLIVES_S = 75.0  # Over twice the liveness watch's LOST_AFTER_S (30 s) plus its beat.
_READY = 'ready'


class ServiceProcess:
  """Process 0's handle on the service: what jax keeps as `global_state.service`."""

  def __init__(self, process: subprocess.Popen):
    self._process = process

  def shutdown(self):
    """Ends the service (jax calls this after its client's shutdown barrier)."""
    try:
      self._process.stdin.write('stop\n')
      self._process.stdin.close()
    except OSError:  # Already gone.
      pass
    self._process.wait(timeout=60)


def start(address, num_nodes, heartbeat_timeout=None, shutdown_timeout=None,
          recoverable=None) -> ServiceProcess:
  """Starts the service on `address` (`_jax.get_distributed_runtime_service`'s arguments) in a
  process of its own; returns once it listens."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  environment = {**os.environ,
                 'PYTHONPATH': os.pathsep.join(filter(None, [root, os.environ.get('PYTHONPATH')]))}
  arguments = [address, num_nodes, heartbeat_timeout, shutdown_timeout, bool(recoverable)]
  process = subprocess.Popen(
      [sys.executable, '-m', __name__, *map(str, arguments)], env=environment, text=True,
      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
  said = process.stdout.readline().strip()
  if said != _READY:
    process.kill()
    raise RuntimeError(f'the coordination service on {address} did not start: '
                       f'{said or f"exit code {process.wait()}"}')
  return ServiceProcess(process)


def _optional_int(text):
  return None if text == 'None' else int(text)


def main(address, num_nodes, heartbeat_timeout, shutdown_timeout, recoverable):
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  signal.signal(signal.SIGTERM, signal.SIG_IGN)
  from jaxlib import _jax  # pylint: disable=import-outside-toplevel  # Only jaxlib, not jax.
  try:
    service = _jax.get_distributed_runtime_service(
        address, int(num_nodes), heartbeat_timeout=_optional_int(heartbeat_timeout),
        shutdown_timeout=_optional_int(shutdown_timeout), recoverable=recoverable == 'True')
  except Exception as e:  # pylint: disable=broad-except  # Told to process 0, which raises it.
    print(' '.join(f'{type(e).__name__}: {e}'.split()), flush=True)
    return
  print(_READY, flush=True)
  told = sys.stdin.readline().strip()
  if told != 'stop':
    time.sleep(OUTLIVES_S)
  service.shutdown()


if __name__ == '__main__':
  main(*sys.argv[1:])
