"""Named scalars in `metrics.jsonl` (the record) and TensorBoard event files (a view of it).

`metrics.jsonl` is the source of truth: one JSON object per (step, split), appended and flushed.
A resumed run rewrites it (atomically) without the rows after its checkpoint, and rebuilds the
TensorBoard events from it, so neither ever holds a point twice. tensorboardX writes events from a
background thread whose queue `flush()` does not drain, so a killed run may lose its last points:
before a run is marked complete its writer is closed (the thread joined), or, when the run is
finished by a process that did not open one, the events are rebuilt (`rebuild_events`).
"""

import json
import math
import os
import shutil

from tensorboardX import SummaryWriter

from vae import files
from vae.errors import UserInputError

METRICS_FILE = 'metrics.jsonl'
TENSORBOARD_DIR = 'tensorboard'


def _parse(path):
  """The rows of `path`. A last line cut short by a kill or a full disk (no newline) is dropped;
  any other line that is not a row is a one-line UserInputError."""
  if not os.path.exists(path):
    return []
  with open(path, 'rb') as f:  # Bytes: a torn last line may end inside a UTF-8 character.
    lines = f.read().split(b'\n')
  rows = []
  for number, line in enumerate(lines[:-1], start=1):  # lines[-1] is b'' or a torn last line.
    try:
      row = json.loads(line)  # Bytes that are not UTF-8 raise UnicodeDecodeError, a ValueError.
      if isinstance(row, dict) and isinstance(row.get('step'), int) and 'split' in row:
        rows.append(row)
        continue
    except ValueError:
      pass
    raise UserInputError(f'{path} line {number} is damaged (not a metrics row); restore the file '
                         'or delete that line')
  return rows


def read_metrics(workdir, split=None):
  """The rows of `workdir/metrics.jsonl`, optionally only one split."""
  rows = _parse(os.path.join(workdir, METRICS_FILE))
  return [r for r in rows if split is None or r['split'] == split]


def _to_json_float(value):
  value = float(value)
  return value if math.isfinite(value) else str(value)


def _add_scalars(tensorboard, row):
  for name, value in row.items():
    if name not in ('step', 'split'):
      tensorboard.add_scalar(f"{row['split']}/{name}", float(value), row['step'])


def _write_events(events_dir, rows):
  """Replaces `events_dir` by the events of `rows`, all on disk when this returns."""
  if os.path.exists(events_dir):
    shutil.rmtree(events_dir)
  tensorboard = SummaryWriter(events_dir, filename_suffix='.rebuilt')
  for row in rows:
    _add_scalars(tensorboard, row)
  tensorboard.close()  # Joins the writer thread, which `flush()` leaves with its queue.


def rebuild_events(workdir):
  """The TensorBoard events of `workdir` rebuilt from its `metrics.jsonl`, point for point."""
  _write_events(os.path.join(workdir, TENSORBOARD_DIR), read_metrics(workdir))


class MetricWriter:
  """Appends rows to `metrics.jsonl` and mirrors them to TensorBoard.

  Opening it keeps only the rows at or before `resume_step` (the restored checkpoint's step) and
  rebuilds the TensorBoard events from them.
  """

  def __init__(self, workdir, resume_step: int):
    self._path = os.path.join(workdir, METRICS_FILE)
    rows = _parse(self._path)
    kept = [r for r in rows if r['step'] <= resume_step]
    if os.path.exists(self._path):
      files.write_atomic(self._path, ''.join(json.dumps(r) + '\n' for r in kept))
    events = os.path.join(workdir, TENSORBOARD_DIR)
    _write_events(events, kept)
    self._tensorboard = SummaryWriter(events)  # Its own file beside the rebuilt one.

  def write(self, step: int, split: str, scalars: dict):
    row = {'step': int(step), 'split': split}
    row.update({name: _to_json_float(value) for name, value in scalars.items()})
    files.append_line(self._path, json.dumps(row))
    _add_scalars(self._tensorboard, row)
    self._tensorboard.flush()

  def close(self):
    self._tensorboard.close()
