"""Writes named scalars to `metrics.jsonl` (for inspection) and TensorBoard event files."""

import json
import math
import os

from tensorboardX import SummaryWriter

METRICS_FILE = 'metrics.jsonl'


def read_metrics(workdir, split=None):
  """The rows of `workdir/metrics.jsonl`, optionally only one split."""
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  return [r for r in rows if split is None or r['split'] == split]


def drop_rows_after(workdir, step):
  """Forgets rows logged after `step`: a resumed run rewrites them from its checkpoint."""
  rows = read_metrics(workdir)
  kept = [r for r in rows if r['step'] <= step]
  if len(kept) != len(rows):
    with open(os.path.join(workdir, METRICS_FILE), 'w') as f:
      f.writelines(json.dumps(r) + '\n' for r in kept)


class MetricWriter:
  """Appends one JSON object per (step, split) and mirrors it to TensorBoard."""

  def __init__(self, workdir):
    self._path = os.path.join(workdir, METRICS_FILE)
    self._tensorboard = SummaryWriter(os.path.join(workdir, 'tensorboard'))

  def write(self, step: int, split: str, scalars: dict):
    row = {'step': int(step), 'split': split}
    row.update({name: _to_json_float(value) for name, value in scalars.items()})
    with open(self._path, 'a') as f:
      f.write(json.dumps(row) + '\n')
    for name, value in scalars.items():
      self._tensorboard.add_scalar(f'{split}/{name}', float(value), int(step))
    self._tensorboard.flush()

  def close(self):
    self._tensorboard.close()


def _to_json_float(value):
  value = float(value)
  return value if math.isfinite(value) else str(value)
