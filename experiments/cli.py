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
import types

from absl import app
from absl import flags
from absl import logging
import ml_collections
from ml_collections.config_flags.config_flags import ConfigFileFlagParser

from vae.errors import Interrupted
from vae.errors import UserInputError
from vae.training import parallel
from vae.training import preemption

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


def _has_setting(config, path) -> bool:
  node = config
  for part in path.split('.'):
    if '[' in part:  # An indexed field (`a[0]`): config_flags checks it.
      return True
    try:
      if part not in node:
        return False
      node = node[part]
    except TypeError:  # A leaf (a number, a string) has no settings below it.
      return False
  return True


def _load_config(spec):
  """(problem, None) or (None, config) for a --config value 'PATH[:ARG]', run as config_flags does.

  Run a second time only after parsing failed, to tell apart what config_flags reports as one
  traceback (or, for a missing file, not at all until the config is first used).
  """
  path, *config_args = spec.split(':', 1)
  if not os.path.exists(path):
    return 'no such file', None
  if os.path.isdir(path):
    return 'is a directory, not a config file', None
  try:
    with open(path, 'rb') as f:
      source = f.read()
  except OSError as e:
    return f'cannot read it: {e.strerror}', None
  try:
    code = compile(source, path, 'exec')
  except SyntaxError as e:
    return f'SyntaxError: {e.msg} (line {e.lineno})', None
  except ValueError as e:  # Null bytes in the source.
    return _describe(e), None
  name = '_cli_config_check'
  module = types.ModuleType(name)
  module.__file__ = path
  sys.modules[name] = module  # Dataclasses defined in the file look their module up.
  try:
    exec(code, module.__dict__)  # pylint: disable=exec-used
    get_config = getattr(module, 'get_config', None)
    if not callable(get_config):
      return 'the file defines no get_config()', None
    try:
      config = get_config(*config_args)
    except Exception as e:  # pylint: disable=broad-except
      return f'get_config() raised {_describe(e)}', None
  except Exception as e:  # pylint: disable=broad-except
    return f'the file raised {_describe(e)}', None
  finally:
    del sys.modules[name]
  if config is None:
    return 'get_config() returned None', None
  return None, config


def _unusable(value) -> bool:
  """Whether config_flags kept a config it could not load (it raises OSError on first use)."""
  try:
    hasattr(value, 'lock')
  except OSError:
    return True
  return value is None


def _config_problem(argv, parsed: bool):
  """The one-line problem with a config file or override on the command line, or None."""
  args = _expanded(argv)
  names = {flags.FLAGS[n].name for n in flags.FLAGS
           if isinstance(flags.FLAGS[n].parser, ConfigFileFlagParser)}
  for name in sorted(names):
    spec = _argument(args, name)
    if spec is None or (parsed and not _unusable(flags.FLAGS[name].value)):
      continue
    problem, config = _load_config(spec)
    if problem:
      return f'--{name}={spec}: {problem}'
    for path, typed in _overrides(args, name):
      if not _has_setting(config, path):
        return f"{typed}: the config has no setting '{path}'"
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
  problem = _config_problem(argv, parsed=error is None)
  if problem is None and error is not None:
    problem = _flags_error(error)
  if problem is None and remaining[1:]:
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
      parallel.initialize(config)  # Before any other JAX call.
    return job(*args)
  except (UserInputError, FloatingPointError) as e:
    sys.exit(f'error: {e}')
  except Interrupted as e:
    sys.stderr.write(f'{_one_line(e)}\n')
    sys.exit(e.exit_code)
  except OSError as e:  # Disk full, permission denied, a file where a directory should be.
    if e.filename is not None:
      sys.exit(f'error: cannot write {e.filename}: {e.strerror or _one_line(e)}')
    sys.exit(f'error: {_one_line(e)}')


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
