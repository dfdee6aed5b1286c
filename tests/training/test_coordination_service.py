"""The coordination service's own process (vae/training/coordination_service.py): it listens,
stops on 'stop', and outlives a process 0 that ends without it."""

import socket
import time

from vae.training import coordination_service


def _free_address():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return f'localhost:{s.getsockname()[1]}'


def test_it_stops_when_told_and_outlives_a_parent_that_is_gone():
  told = coordination_service.start(_free_address(), 2, heartbeat_timeout=100)
  child = told._process  # pylint: disable=protected-access
  assert child.poll() is None
  started = time.monotonic()
  told.shutdown()
  assert child.returncode == 0 and time.monotonic() - started < 10
  # Process 0 gone without 'stop': its end of the pipe closes, the service stays up.
  orphan = coordination_service.start(_free_address(), 2)
  child = orphan._process  # pylint: disable=protected-access
  child.stdin.close()
  time.sleep(1.0)
  assert child.poll() is None  # Up for OUTLIVES_S, for the survivors' liveness watch.
  child.kill()
  child.wait()
