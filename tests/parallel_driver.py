"""Runs an entry point as a test subprocess would: `python -m tests.parallel_driver LOG MODULE ARGS...`.

With LOG not '-', every file this process opens for writing, creates, renames or deletes
(Python's audit events) is appended to LOG, one path a line, so a test can check which process
wrote which file. The entry point then runs as `python -m MODULE ARGS...` would run it.
"""

import os
import runpy
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _written_paths(log):
  """An audit hook recording the paths this process writes (its own log file excepted)."""
  log_file = open(log, 'a', buffering=1)  # noqa: SIM115  Open for the process's lifetime.

  def hook(event, args):
    if event == 'open' and isinstance(args[0], (str, bytes)):
      path, mode, flags = args
      writes = any(c in (mode or '') for c in 'wax+') or bool(flags & _WRITE_FLAGS)
      if not writes or os.fspath(path) == log:
        return
    elif event not in ('os.rename', 'os.replace', 'os.remove', 'os.mkdir', 'shutil.rmtree'):
      return
    log_file.write(os.path.abspath(os.fsdecode(args[0])) + '\n')

  return hook


def main():
  log, module, *arguments = sys.argv[1:]
  if log != '-':
    sys.addaudithook(_written_paths(log))
  sys.argv = [module, *arguments]
  runpy.run_module(module, run_name='__main__', alter_sys=True)


if __name__ == '__main__':
  main()
