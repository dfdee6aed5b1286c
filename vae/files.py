"""Files written complete or not at all, and one writer per directory.

Every file a run writes goes through `write_atomic` (write a temporary sibling, flush, fsync,
rename over the target), so a kill at any moment leaves the old file or the new one, never a torn
one. Temporaries carry `TMP_MARK` in their name and are swept by `remove_temporaries` when the
directory's lock is next taken. A write that fails raises an `OSError` naming the file it was
for (`named_error`); `space_note` says how much room there was, for the run's one error line.
"""

import errno
import fcntl
import functools
import json
import os
import resource
import shutil
import socket

from vae.errors import UserInputError

TMP_MARK = '.tmp-'
LOCK_FILE = '.lock'


def temporary(path, label=''):
  """This process's temporary sibling of `path` (swept by `remove_temporaries`)."""
  return f'{path}{TMP_MARK}{label}{os.getpid()}'


def write_atomic(path, data: str | bytes):
  """Replaces `path` by `data` in one rename (the directory must exist)."""
  tmp = temporary(os.path.abspath(path))
  try:
    with open(tmp, 'wb' if isinstance(data, bytes) else 'w') as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
  except OSError as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise named_error(e, path) from None
  os.replace(tmp, path)


def named_error(error: OSError, path) -> OSError:
  """`error` naming `path` (a failed write, e.g. a full disk, names no file by itself)."""
  return error if error.filename else OSError(error.errno, error.strerror, str(path))


def space_note(error: OSError) -> str:
  """' (N bytes free)' for a full disk or quota, ' (the file-size limit is N bytes)' for a file
  over the process's limit, '' otherwise: what the researcher needs to make room."""
  if error.errno in (errno.ENOSPC, errno.EDQUOT) and error.filename is not None:
    existing = os.path.abspath(error.filename)
    while not os.path.exists(existing):
      existing = os.path.dirname(existing)
    return f' ({shutil.disk_usage(existing).free:,} bytes free)'
  limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
  if error.errno == errno.EFBIG and limit != resource.RLIM_INFINITY:
    return f" (the file-size limit is {limit:,} byte{'' if limit == 1 else 's'})"
  return ''


def write_all(write, data: bytes):
  """Calls `write` (an unbuffered file's, or `os.write` of a descriptor) until all of `data` is
  written: a write that reaches a full disk or the file-size limit may be short, and the next one
  raises."""
  remaining = memoryview(data)
  while remaining:
    remaining = remaining[write(remaining):]


def append_line(path, line: str):
  """Appends one line; a write cut short leaves a torn last line, which readers drop."""
  try:
    with open(path, 'a') as f:
      f.write(line + '\n')
  except OSError as e:
    raise named_error(e, path) from None


def write_json_atomic(path, value):
  write_atomic(path, json.dumps(value, indent=1, sort_keys=True) + '\n')


def read_json(path, what):
  """The JSON in `path`; a damaged file is a one-line UserInputError naming it."""
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise UserInputError(f'{path} ({what}) is damaged: {e.msg} at line {e.lineno}; restore or '
                         'delete it') from None
  except UnicodeDecodeError as e:
    raise UserInputError(f'{path} ({what}) is damaged: not UTF-8 at byte {e.start}; restore or '
                         'delete it') from None


def remove_tree(path):
  """Deletes a directory so that a kill midway never leaves a half-deleted one in place."""
  doomed = temporary(path, 'deleted-')
  os.rename(path, doomed)
  shutil.rmtree(doomed)


def remove_temporaries(*directories):
  """Deletes what killed writers left in `directories` (names carrying `TMP_MARK`); call it
  holding the directory's lock."""
  for directory in filter(os.path.isdir, directories):
    for name in os.listdir(directory):
      if TMP_MARK in name:
        path = os.path.join(directory, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def prepare_directory(path, flag='--workdir'):
  """Creates `path` if needed; a path that is a file or cannot be written is a one-line error."""
  try:
    os.makedirs(path, exist_ok=True)
    probe = temporary(os.path.join(path, ''), 'probe-')
    with open(probe, 'w'):
      pass
    os.remove(probe)
  except OSError as e:
    raise UserInputError(f'{flag}={path} cannot be written: {e.strerror}') from None


class DirectoryLock:
  """An exclusive `flock` on `directory/.lock`, held by one process until it exits.

  The kernel drops the lock when its holder dies, however it dies, so a lock left by a killed
  run is never stale. The file records the holder's pid and host for the message a second
  process gets.
  """

  def __init__(self, directory, flag='--workdir'):
    self._path = os.path.join(directory, LOCK_FILE)
    self._file = open(self._path, 'a+')
    try:
      fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EAGAIN, errno.EACCES):
        raise
      self._file.seek(0)
      holder = self._file.read().strip() or 'another process'
      self._file.close()
      raise UserInputError(f'{flag}={directory} is in use by {holder}; wait for it to finish '
                           'or stop it') from None
    try:  # Unbuffered, so that a full disk fails here and closing has nothing left to write.
      os.ftruncate(self._file.fileno(), 0)
      write_all(functools.partial(os.write, self._file.fileno()),
                f'pid {os.getpid()} on host {socket.gethostname()}\n'.encode())
    except OSError as e:
      self.release()
      raise named_error(e, self._path) from None

  def release(self):
    if not self._file.closed:
      fcntl.flock(self._file, fcntl.LOCK_UN)
      self._file.close()
