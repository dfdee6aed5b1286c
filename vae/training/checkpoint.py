"""Verified checkpoints: each step a directory written whole, hashed, and checked on restore.

    checkpoints/<step>/state/          the train state (orbax, StandardCheckpointHandler)
    checkpoints/<step>/progress.json   what the loop needs to resume exactly (JSON)
    checkpoints/<step>/manifest.json   sha256 and size of every other file, written last

A step is staged in `<step>.tmp-<pid>/` and renamed into place once its manifest is written, so
a step directory is complete or absent. On restore every file is checked against the manifest:
a truncated, flipped, missing or extra-empty file marks the step damaged (with the reason), and
the caller falls back to an older intact step. The newest `keep` intact steps are kept.
"""

import contextlib
import errno
import hashlib
import json
import logging as std_logging
import os
import re
import shutil
import sys

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from vae import files
from vae.errors import UserInputError
from vae.training import memory

DIRECTORY = 'checkpoints'
MANIFEST = 'manifest.json'
_PROGRESS = 'progress.json'
_STATE = 'state'
_SAVED_FIELDS = ('step', 'params', 'opt_state', 'strength', 'critic')


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def _listing(root):
  """{relative path: (size, sha256)} of every file under `root` except the manifest."""
  found = {}
  for directory, _, names in os.walk(root):
    for name in names:
      path = os.path.join(directory, name)
      relative = os.path.relpath(path, root)
      if relative != MANIFEST:
        found[relative] = (os.path.getsize(path), _sha256(path))
  return found


def _damage(step_dir):
  """Why `step_dir` cannot be trusted ('missing files', 'hash mismatch', ...), or None."""
  try:
    with open(os.path.join(step_dir, MANIFEST)) as f:
      recorded = {path: tuple(entry) for path, entry in json.load(f)['files'].items()}
  except FileNotFoundError:
    return 'missing files'
  except (ValueError, KeyError, TypeError):
    return 'damaged manifest'
  present = _listing(step_dir)
  if set(recorded) - set(present):
    return 'missing files'
  if any(present[path] != entry for path, entry in recorded.items()):
    return 'hash mismatch'
  return None


def _saved(state):
  """The fields a checkpoint holds; a method without a critic saves none."""
  return {name: getattr(state, name) for name in _SAVED_FIELDS if getattr(state, name) is not None}


def _checkpointer():
  """Orbax for this process alone: with several processes, process 0 writes every checkpoint
  (`vae.training.parallel`) and each process reads them, so none waits for the others.

  Use it in a `with` block: closing it ends its background threads, which would otherwise outlive
  the event loop at exit and print tracebacks after a failed save."""
  me = jax.process_index()
  options = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
  return ocp.Checkpointer(ocp.StandardCheckpointHandler(), multiprocessing_options=options)


class _NoWriterTracebacks(std_logging.Filter):
  """Drops orbax's tracebacks of a failed background write: the save raises that failure in the
  caller, which reports it in one line."""

  def filter(self, record):
    return not (record.exc_info and '/orbax/' in record.pathname)


@contextlib.contextmanager
def _writer_failures_raised_only():
  quiet = _NoWriterTracebacks()
  logging.get_absl_logger().addFilter(quiet)
  try:
    yield
  finally:
    logging.get_absl_logger().removeFilter(quiet)


def _save_failure(error, step, directory) -> OSError:
  """The OSError of a failed orbax save: tensorstore's message names the OS error by its code."""
  code = re.search(r"os_error_code='(\d+)'", str(error))
  if code:
    return OSError(int(code.group(1)), f'{os.strerror(int(code.group(1)))}: the checkpoint of step '
                   f'{step} was not saved', directory)
  reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
  return OSError(errno.EIO, f'the checkpoint of step {step} was not saved ({reason})', directory)


def _is_late_callback(unraisable) -> bool:
  """Whether an unraisable error is a callback into the closed event loop of a failed save.

  When one write of a save fails, orbax raises the failure and closes the event loop it ran the
  save's writes on, while tensorstore goes on completing the others; each completion's callback
  into that loop fails with 'Event loop is closed', unraisably, and would print a traceback around
  the run's one-line error. The failure itself has been raised in the caller, so these say nothing.
  """
  return (unraisable.exc_type is RuntimeError and
          str(unraisable.exc_value) == 'Event loop is closed')


def _drop_late_callback_failures():
  """Installs (once per process) the unraisable hook that drops `_is_late_callback` errors."""
  previous = sys.unraisablehook
  if getattr(previous, 'drops_late_callbacks', False):
    return

  def hook(unraisable):
    if not _is_late_callback(unraisable):
      previous(unraisable)

  hook.drops_late_callbacks = True
  sys.unraisablehook = hook


class Checkpoints:
  """The checkpoint steps of one workdir: which are intact, restore, save, prune."""

  def __init__(self, workdir, keep=2):
    self.directory = os.path.join(os.path.abspath(workdir), DIRECTORY)
    if os.path.exists(self.directory) and not os.path.isdir(self.directory):
      raise UserInputError(f'--workdir={workdir}: {self.directory} is not a directory; move it '
                           'away or use a new --workdir')
    self._keep = keep
    self._damage = {}  # step -> reason or None, once checked.
    self._workdir = workdir

  def steps(self) -> list[int]:
    """Every step directory, newest first (intact or not)."""
    if not os.path.isdir(self.directory):
      return []
    return sorted((int(name) for name in os.listdir(self.directory) if name.isdigit()),
                  reverse=True)

  def _path(self, step):
    return os.path.join(self.directory, str(step))

  def damage(self, step):
    """Why step `step` is not intact, or None when it is (checked once per process)."""
    if step not in self._damage:
      self._damage[step] = _damage(self._path(step))
    return self._damage[step]

  def intact_steps(self) -> list[int]:
    return [step for step in self.steps() if self.damage(step) is None]

  def describe_damage(self):
    """'8 (hash mismatch), 6 (missing files)' for the damaged steps."""
    return ', '.join(f'{s} ({self.damage(s)})' for s in self.steps() if self.damage(s))

  def require_intact(self):
    """Raises the one-line error for a workdir whose step directories are all damaged."""
    if self.steps() and not self.intact_steps():
      raise UserInputError(f'no intact checkpoint in --workdir={self._workdir}; damaged: '
                           f'{self.describe_damage()}')

  def warn_damaged_after(self, step):
    for s in self.steps():
      if s > step and self.damage(s):
        logging.warning('checkpoint at step %d in %s is damaged (%s): using step %s', s,
                        self._workdir, self.damage(s), step)

  def restore(self, step, state):
    """(state at `step`, its progress dict); `step` must be intact.

    A checkpoint of another model shape raises a one-line UserInputError.
    """
    path = os.path.join(self._path(step), _STATE)
    with _checkpointer() as checkpointer:
      stored = checkpointer.metadata(path).item_metadata.tree
    shapes = lambda tree: jax.tree.map(lambda a: tuple(a.shape), tree)  # noqa: E731
    networks = lambda tree: (tree['params'], tree.get('critic', {}).get('params'))  # noqa: E731
    if shapes(networks(stored)) != shapes(networks(_saved(state))):
      raise UserInputError(
          f'checkpoint at step {step} in {self.directory} has another model shape than this '
          'config (--config.method/model/latents/hidden/likelihood/discriminator_* or the '
          'dataset differ); use a new --workdir')
    # Host arrays: a checkpoint restores onto any device count; the caller places them.
    target = jax.tree.map(lambda x: np.zeros(np.shape(x), x.dtype), _saved(state))
    with _checkpointer() as checkpointer:
      restored = checkpointer.restore(path, target)
    with open(os.path.join(self._path(step), _PROGRESS)) as f:
      progress = json.load(f)
    return state.replace(**restored), progress

  def save(self, state, progress: dict):
    """Writes step `state.step` whole (replacing one of that step), then prunes old steps."""
    step = int(state.step)
    os.makedirs(self.directory, exist_ok=True)
    stage = files.temporary(self._path(step))
    # Refused up front: orbax fails on a full disk from its writer threads, in tracebacks.
    need, free = int(1.1 * memory.tree_bytes(_saved(state))) + 2**16, shutil.disk_usage(
        self.directory).free
    if free < need:
      raise OSError(errno.ENOSPC, f'No space left on device: a checkpoint needs {need:,} bytes',
                    self.directory)  # The entry point's one line adds the free bytes.
    _drop_late_callback_failures()  # Before: the first callbacks come while the save fails.
    try:
      with _writer_failures_raised_only(), _checkpointer() as checkpointer:
        checkpointer.save(os.path.join(stage, _STATE),
                          args=ocp.args.StandardSave(jax.device_get(_saved(state))))
    except Exception as e:  # noqa: BLE001  orbax reports a full disk in its own error types.
      # tensorstore may still be finishing the save's other writes in the stage: what this misses
      # is swept with the temporaries when the run directory is next opened.
      shutil.rmtree(stage, ignore_errors=True)
      raise _save_failure(e, step, self.directory) from None
    files.write_atomic(os.path.join(stage, _PROGRESS), json.dumps(progress) + '\n')
    manifest = {'step': step, 'files': _listing(stage)}
    files.write_atomic(os.path.join(stage, MANIFEST), json.dumps(manifest, indent=1) + '\n')
    if os.path.exists(self._path(step)):
      files.remove_tree(self._path(step))
    os.rename(stage, self._path(step))
    self._damage[step] = None
    self.prune()

  def discard_after(self, step):
    """Deletes every step newer than `step` (a resumed run rewrites them)."""
    for s in self.steps():
      if s > step:
        files.remove_tree(self._path(s))
        self._damage.pop(s, None)

  def prune(self):
    """Deletes every step older than the newest `keep` intact ones (there must be one)."""
    kept = self.intact_steps()[:self._keep]
    for s in self.steps():
      if s < kept[-1]:
        files.remove_tree(self._path(s))
        self._damage.pop(s, None)
