"""What every entry point shares: progress logging, and one-line errors with a non-zero exit."""

import logging as std_logging
import os
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


def report_and_print(write_report, *args):
  """Runs `write_report(*args) -> (rows, excluded)` and prints the workdir's summary.md."""
  workdir = args[-1]
  rows, excluded = write_report(*args)
  if not rows:
    raise UserInputError(f'--workdir={workdir} holds no evaluated run to report')
  logging.info('%d runs reported, %d excluded; tables and figures in %s', len(rows),
               len(excluded), workdir)
  with open(os.path.join(workdir, 'summary.md')) as f:
    print(f.read())
