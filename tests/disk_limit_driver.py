"""Runs an entry point under a file-size limit set after the n-th call of a chosen step.

    python -m tests.disk_limit_driver PHASE N BYTES MODULE [FLAGS...]

From the n-th call of PHASE on (one of `tests.kill_driver.PHASES`; N=0 sets it at the start),
no file may grow past BYTES: a write beyond fails with EFBIG, as a quota or a full disk fails it.
Python ignores SIGXFSZ, so the write raises instead of the kernel killing the process. The moment
the limit is set goes to stdout as `LIMIT_SET_AT <time.time()>`, for the time the run takes to end.
"""

import resource
import sys
import time

from tests import kill_driver

LIMIT_SET_AT = 'LIMIT_SET_AT'


def _limit(size):
  print(LIMIT_SET_AT, time.time(), flush=True)
  resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def main():
  phase, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
  if n == 0:
    _limit(size)
  kill_driver.before_call(phase, n, lambda: _limit(size))
  kill_driver.run_entry_point(sys.argv[4], sys.argv[5:])


if __name__ == '__main__':
  main()
