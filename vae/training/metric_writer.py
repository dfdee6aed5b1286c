"""Named scalars in `metrics.jsonl` (the record) and TensorBoard event files (a view of it).

`metrics.jsonl` is the source of truth: one JSON object per (step, split), appended and flushed.
A resumed run rewrites it (atomically) without the rows after its checkpoint, and rebuilds the
TensorBoard events from it, so neither ever holds a point twice. Events are written in the
caller's thread (`vae.training.event_file`), so a full disk fails the write that meets it; a kill
or a full disk may still cost the view its last points, so the events are rebuilt
(`rebuild_events`) when a run is opened and again when it is finished.

The event files lie in the run directory itself, so TensorBoard names a sweep's run
`<method>_<strength>_seed_<s>`. They are named by their creation time, as TensorBoard reads a
directory's event files in name order. A rebuild writes its file whole (a temporary, then a
rename) before it deletes the older scalar event files, so a failed rebuild leaves the old view.
What a rebuild writes comes from saved files alone: the rows; the suite's scores
(`eval_disentanglement.json`) as `disentanglement/<representation>/<score>` at their step; and the
run's HParams file (`vae.training.hparams`: `config.json`'s defining settings against every eval
and score tag, the headline ones first), an event file of its own that a study may replace.
Images cannot be rebuilt (the states are gone), so each eval step's images are one event file of
their own, written whole; a resume deletes those of the steps after its checkpoint and keeps the
others.
"""

import json
import math
import numbers
import os

from tensorboardX import summary

from vae import files
from vae.errors import UserInputError
from vae.training import event_file
from vae.training import hparams
from vae.training.event_file import EventFile

METRICS_FILE = 'metrics.jsonl'
IMAGES_SUFFIX = '.images'
REBUILT_SUFFIX = '.rebuilt'
CONFIG_FILE = 'config.json'
SCORES_FILE = 'eval_disentanglement.json'
SCORE_GROUPS = ('mean', 'sampled', 'aggregate_posterior')


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


def _add_scalars(events, row):
  for name, value in row.items():
    if name not in ('step', 'split'):
      events.add(summary.scalar(f"{row['split']}/{name}", float(value)), row['step'])


def _event_files(workdir, images):
  """The names of `workdir`'s event files: the images' or the scalars' (HParams files are
  `vae.training.hparams`')."""
  return sorted(n for n in os.listdir(workdir)
                if n.startswith(event_file.PREFIX) and not n.endswith(hparams.SUFFIX)
                and n.endswith(IMAGES_SUFFIX) == images)


def _read_json(workdir, name):
  path = os.path.join(workdir, name)
  return files.read_json(path, name) if os.path.exists(path) else None


def score_rows(workdir):
  """The rows of the suite's scores in `workdir/eval_disentanglement.json` (none without it)."""
  results = _read_json(workdir, SCORES_FILE)
  if results is None:
    return []
  return [{'step': results['step'], 'split': f'disentanglement/{group}',
           **{k: v for k, v in results[group].items() if isinstance(v, numbers.Number)}}
          for group in SCORE_GROUPS if group in results]


def tags(rows):
  """The eval and score tags of `rows`, as HParams metrics (not the per-dimension KLs)."""
  return {f"{r['split']}/{k}" for r in rows if r['split'] != 'train' for k in r
          if k not in ('step', 'split') and not k.startswith('kl_per_dim/')}


def _write_events(workdir, rows):
  """Replaces `workdir`'s scalar event files by the events of `rows` and the scores, and its
  HParams file by the run's."""
  rows = rows + score_rows(workdir)

  def add_events(events):
    for row in rows:
      _add_scalars(events, row)

  rebuilt = event_file.new_path(workdir, REBUILT_SUFFIX)
  event_file.write_whole(rebuilt, add_events)
  for name in _event_files(workdir, images=False):
    if name != os.path.basename(rebuilt):
      os.remove(os.path.join(workdir, name))
  config = _read_json(workdir, CONFIG_FILE)
  if config is not None:
    hparams.write_run(workdir, config, tags(rows))


def rebuild_events(workdir):
  """The TensorBoard scalars and HParams of `workdir` rebuilt from its saved files."""
  _write_events(workdir, read_metrics(workdir))


def _image_step(name):
  """The step of an images event file, from its name."""
  return int(name[:-len(IMAGES_SUFFIX)].rsplit('.step_', 1)[1])


def has_images(workdir, step):
  """Whether `workdir` holds the images of `step`."""
  return any(_image_step(n) == step for n in _event_files(workdir, images=True))


def write_images(workdir, step, images):
  """`images` ({name: [H, W, C] array in [0, 1]}) at `step` as `images/<name>`, in one event file
  that replaces any earlier one of that step."""

  def add_events(events):
    for name, image in images.items():
      events.add(summary.image(f'images/{name}', image, dataformats='HWC'), step)

  path = event_file.new_path(workdir, f'.step_{step}{IMAGES_SUFFIX}')
  event_file.write_whole(path, add_events)
  _drop_images(workdir, lambda n: _image_step(n) == step and n != os.path.basename(path))


def _drop_images(workdir, condition):
  """Deletes the images event files whose names meet `condition`."""
  for name in _event_files(workdir, images=True):
    if condition(name):
      os.remove(os.path.join(workdir, name))


class MetricWriter:
  """Appends rows to `metrics.jsonl` and mirrors them to TensorBoard.

  Opening it keeps only the rows and images at or before `resume_step` (the restored
  checkpoint's step) and rebuilds the TensorBoard scalars from them.
  """

  def __init__(self, workdir, resume_step: int):
    self._path = os.path.join(workdir, METRICS_FILE)
    rows = _parse(self._path)
    kept = [r for r in rows if r['step'] <= resume_step]
    if os.path.exists(self._path):
      files.write_atomic(self._path, ''.join(json.dumps(r) + '\n' for r in kept))
    _drop_images(workdir, lambda name: _image_step(name) > resume_step)
    _write_events(workdir, kept)
    self._events = EventFile(event_file.new_path(workdir))  # Its own file after the rebuilt one.

  def write(self, step: int, split: str, scalars: dict):
    row = {'step': int(step), 'split': split}
    row.update({name: _to_json_float(value) for name, value in scalars.items()})
    files.append_line(self._path, json.dumps(row))
    _add_scalars(self._events, row)

  def close(self):
    self._events.close()
