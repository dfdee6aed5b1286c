"""Shared fixtures (the tiny test config, signal handlers restored) and a persistent compilation
cache."""

import os
import signal
import tempfile

# One persistent XLA cache for the session and the entry points it starts as subprocesses: the
# same tiny programs are compiled once, not once per process. Set before JAX is imported.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR',
                      os.path.join(tempfile.gettempdir(), 'vae_tests_xla_cache'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '0')

import pytest  # noqa: E402

from experiments.configs import test as test_config  # noqa: E402


@pytest.fixture
def config():
  return test_config.get_config()


@pytest.fixture
def restored_signals():
  """`experiments.cli.run` installs the stop-request handlers: give pytest its own back after."""
  saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
  yield
  for signum, handler in saved.items():
    signal.signal(signum, handler)
