"""What every entry point shares: flag parsing, progress logging, one-line errors, signals.

`main(main_fn)` replaces `app.run(main_fn)`: anything wrong on the command line (an unknown flag
or setting, a bad value, a config file that is missing, broken or raises) ends with one line
`error: --FLAG=VALUE: what is wrong` and exit code 2, before `main_fn` runs or anything is
written. `run(job, *args)` ends a bad input with `error: ...` (exit 1) and a stop on SIGTERM or
SIGINT with its one-line message (exit 128 + signal).
"""

import logging as std_logging
import os
import re
import sys
import time

from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections
from ml_collections.config_flags.config_flags import ConfigFileFlagParser

from vae import files
from vae import preemption
from vae.errors import Interrupted
from vae.errors import UserInputError
from vae.training import parallel

# Libraries whose INFO lines would drown the progress lines.
_QUIET_LIBRARIES = ('/orbax/', '/jax/_src/', '/absl/')

_USAGE_EXIT_CODE = 2  # The shell's (and argparse's) convention for a bad command line.


class _ProgressOnly(std_logging.Filter):

  def filter(self, record):
    return record.levelno >= std_logging.WARNING or not any(
        part in record.pathname for part in _QUIET_LIBRARIES)


def _one_line(text) -> str:
  return ' '.join(str(text).split())


def _describe(e: BaseException) -> str:
  message = _one_line(e)
  return f'{type(e).__name__}: {message}' if message else type(e).__name__


def _expanded(argv):
  """argv[1:] with --flagfile contents inlined, all of it (config_flags reads past `--` too)."""
  try:
    return flags.FLAGS.read_flags_from_files(argv[1:], force_gnu=False)
  except Exception:  # pylint: disable=broad-except
    return list(argv[1:])  # absl reports the bad flagfile itself.


def _argument(args, name):
  """The last value given to --name (as `--name=V` or `--name V`), or None."""
  value = None
  for i, arg in enumerate(args):
    match = re.fullmatch(rf'--?{re.escape(name)}(=(.*))?', arg, re.DOTALL)
    if match:
      value = match.group(2) if match.group(1) else (args[i + 1] if i + 1 < len(args) else None)
  return value


def _overrides(args, name):
  """(path, '--name.path=V' as typed) of each override of config flag `name`."""
  for i, arg in enumerate(args):
    match = re.fullmatch(rf'--?(no)?{re.escape(name)}\.([^=]+)(=.*)?', arg, re.DOTALL)
    if match:
      value = match.group(3)
      if value is None and i + 1 < len(args) and not args[i + 1].startswith('-'):
        value = '=' + args[i + 1]
      yield match.group(2), f"--{match.group(1) or ''}{name}.{match.group(2)}{value or ''}"


def _config_spec(args):
  """(flag name, 'PATH[:ARG]') of the config file flag given in `args`, or (None, None)."""
  for name in sorted({flags.FLAGS[n].name for n in flags.FLAGS
                      if isinstance(flags.FLAGS[n].parser, ConfigFileFlagParser)}):
    spec = _argument(args, name)
    if spec is not None:
      return name, spec
  return None, None


def _raised_by_get_config(e) -> str | None:
  """'Kind: message' of what get_config() raised, which config_flags keeps only as a traceback."""
  if 'Error whilst parsing config file' not in str(e):
    return None
  lines = [line for line in str(e).splitlines() if line.strip()]
  return _one_line(lines[-1]) if lines else None


def _config_problem(e: BaseException, args):
  """The one line naming the config flag or override that `e` (raised while the config file was
  loaded or overridden, or on first use of a config that failed to load) is about, or None."""
  name, spec = _config_spec(args)
  if name is None:
    return None
  if isinstance(e, AttributeError) and isinstance(e.__context__, KeyError):
    missing = str(e.__context__.args[0]).strip("'")  # Only the path's last part is named.
    for path, typed in _overrides(args, name):
      if path.split('.')[-1] == missing:
        return f"{typed}: the config has no setting '{path}'"
    return None
  path = spec.split(':', 1)[0]
  if isinstance(e, SyntaxError):
    problem = f'SyntaxError: {e.msg} (line {e.lineno})'
  elif isinstance(e, AttributeError) and getattr(e, 'name', None) == 'get_config':
    problem = 'the file defines no get_config()'
  elif not os.path.exists(path):
    problem = 'no such file'
  elif os.path.isdir(path):
    problem = 'is a directory, not a config file'
  elif raised := _raised_by_get_config(e):
    problem = f'get_config() raised {raised}'
  elif isinstance(e, flags.Error):
    return None
  else:
    problem = f'the file raised {_describe(e)}'
  return f'--{name}={spec}: {problem}'


def _first_use_error(args):
  """What a config that config_flags kept without loading it raises on first use, or None."""
  name, _ = _config_spec(args)
  try:
    if name is not None:
      hasattr(flags.FLAGS[name].value, 'lock')
  except OSError as e:
    return e
  return None


def _flags_error(e: Exception) -> str:
  """One line naming the flag, from what absl (or a config override) raised."""
  if isinstance(e, flags.UnrecognizedFlagError):
    match = re.search(r'Did you mean: (.*) \?$', str(e))
    if not match:
      return f'--{e.flagname}: no such flag'
    names = ', '.join(f'--{name}' for name in match.group(1).split(', '))
    return f'--{e.flagname}: no such flag; did you mean {names}?'
  if isinstance(e, flags.Error):
    message = _one_line(e)
    early = re.fullmatch(r'Found (\S+) in argv before a value for (--\S+) was specified', message)
    if early:
      return f'{early.group(1)}: comes before {early.group(2)}; give {early.group(2)}=FILE first'
    required = re.fullmatch(r'flag --(\S+)=None: Flag --\1 must have a value other than None\.',
                            message)
    if required:
      return f'--{required.group(1)} is required'
    return message.removeprefix('flag ')
  return _describe(e)


def _parse_flags(argv):
  """absl's flag parsing, any failure one line `error: ...` and exit 2 (--help still works)."""
  try:
    remaining, error = flags.FLAGS(argv), None
  except Exception as e:  # pylint: disable=broad-except
    remaining, error = None, e  # flags.Error, or whatever a config file or override raised.
  args = _expanded(argv)
  if error is None:
    error = _first_use_error(args)
  problem = None
  if error is not None:
    problem = _config_problem(error, args) or _flags_error(error)
  elif remaining[1:]:
    problem = (f"unexpected argument {remaining[1]!r}: every setting is a flag, "
               '--NAME=VALUE (--help lists them)')
  if problem is not None:
    sys.stderr.write(f'error: {problem}\n')
    sys.exit(_USAGE_EXIT_CODE)
  return remaining


def main(main_fn):
  """`app.run(main_fn)` with one-line errors for anything wrong on the command line."""
  app.run(main_fn, flags_parser=_parse_flags)


def run(job, *args):
  """Runs `job(*args)` with progress logging and stop requests on SIGTERM/SIGINT.

  A bad setting exits with `error: <one line>` (1), a failed write with `error: cannot write
  PATH: why` (1), a stop on a signal with its message (128 + the signal's number).
  """
  logging.set_verbosity(logging.INFO)
  logging.get_absl_handler().addFilter(_ProgressOnly())
  preemption.install()
  try:
    for config in (a for a in args if isinstance(a, ml_collections.ConfigDict)):
      parallel.initialize(config, on_lost=_lost)  # Before any other JAX call.
    return job(*args)
  except (UserInputError, FloatingPointError) as e:
    _exit(1, f'error: {e}')
  except Interrupted as e:
    sys.stderr.write(f'{_one_line(e)}\n')
    sys.exit(e.exit_code)  # Every process stops at the same step: they leave the cluster together.
  except OSError as e:  # Disk full, permission denied, a file where a directory should be.
    if e.filename is not None:
      _exit(1, f'error: cannot write {e.filename}: {e.strerror or _one_line(e)}'
            f'{files.space_note(e)}')
    _exit(1, f'error: {_one_line(e)}')
  except jax.errors.JaxRuntimeError:
    if not parallel.distributed():
      raise
    # A collective that lost its peer fails at once; the liveness watch names the lost process
    # within LOST_AFTER_S and ends this one (`_lost`).
    time.sleep(parallel.LOST_AFTER_S + 4 * parallel.BEAT_S)
    _exit(1, 'error: a collective with another process of --config.distributed failed and no '
          'process was found lost; re-run the same command on every host to resume')


def _exit(code, line, announce=True):
  """Ends the process with `line` on stderr. With several processes it tells the others when
  `announce` (they end within a beat, naming it) and leaves at once: the cluster's shutdown
  barrier would wait for processes that are gone or still running."""
  if not parallel.distributed():
    sys.exit(line)
  if announce:
    parallel.announce_exit(line)
  sys.stderr.write(f'{line}\n')
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


def _lost(process, why):
  _exit(1, f'error: lost process {process} of the {jax.process_count()} of '
        f'--config.distributed ({why}); re-run the same command on every host to resume from '
        'the last checkpoint', announce=False)  # Each survivor names the lost one itself.


def report_and_print(write_report, *args):
  """Runs `write_report(*args) -> (rows, excluded)` and prints the workdir's summary.md."""
  workdir = args[-1]
  report = write_report(*args)
  if report is None:  # Not process 0 of several: it reports.
    return
  rows, excluded = report
  if not rows:
    raise UserInputError(f'--workdir={workdir} holds no evaluated run to report')
  logging.info('%d runs reported, %d excluded; tables and figures in %s', len(rows),
               len(excluded), workdir)
  with open(os.path.join(workdir, 'summary.md')) as f:
    print(f.read())
