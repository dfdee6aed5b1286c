"""What every entry point shares: progress logging, and one-line errors with a non-zero exit."""

import logging as std_logging
import sys

from absl import logging

from vae.errors import UserInputError

# Libraries whose INFO lines would drown the progress lines.
_QUIET_LIBRARIES = ('/orbax/', '/jax/_src/', '/absl/')


class _ProgressOnly(std_logging.Filter):

  def filter(self, record):
    return record.levelno >= std_logging.WARNING or not any(
        part in record.pathname for part in _QUIET_LIBRARIES)


def run(job, *args):
  """Runs `job(*args)` with progress logging; a bad setting exits with `error: <one line>`."""
  logging.set_verbosity(logging.INFO)
  logging.get_absl_handler().addFilter(_ProgressOnly())
  try:
    return job(*args)
  except (UserInputError, FloatingPointError) as e:
    sys.exit(f'error: {e}')
