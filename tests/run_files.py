"""Test helpers: what a run left on disk, in a form two runs can be compared by, and kills.

`snapshot(workdir)` reads back everything a run (single or sweep) produces except wall-clock
timings: parameters of every final checkpoint (bitwise), metrics rows, TensorBoard points,
scores, summaries, figures and completion markers. `kill_at(n)` makes the n-th file-system event
of the process (an `os.replace`/`os.rename`/`os.remove`, a metrics row, a fused chunk of steps)
end the run as SIGKILL would: nothing after it runs but `finally` blocks, which only close
writers of derived files (TensorBoard) and release locks.
"""

import contextlib
import glob
import hashlib
import json
import math
import os
import struct

import jax
import numpy as np
from tensorboardX.proto import event_pb2

from experiments.configs import default
from experiments.configs import sweep_test
from experiments.configs import test as test_config
from vae.training import checkpoint
from vae.training import loop
from vae.training import metric_writer
from vae.training import run_directory

TIMINGS = ('steps_per_s', 'seconds', 'stage_seconds')  # Wall-clock values: the only ones two
# runs may differ in.


def tensorboard_points(workdir):
  """[(tag, step, value)] of every scalar in the run's event files, in file order (NaN as 'nan')."""
  points = []
  for path in sorted(glob.glob(os.path.join(workdir, 'events.out.tfevents.*'))):
    with open(path, 'rb') as f:
      data = f.read()
    offset = 0
    while offset + 12 <= len(data):
      (length,) = struct.unpack('<Q', data[offset:offset + 8])
      record = data[offset + 12:offset + 12 + length]
      offset += 12 + length + 4
      event = event_pb2.Event.FromString(record)
      for value in event.summary.value:
        # NaN (a score undefined for the model) compares equal to itself here.
        number = value.simple_value
        points.append((value.tag, event.step, 'nan' if math.isnan(number) else number))
  return points


def _final_params(run_dir):
  checkpoints = checkpoint.Checkpoints(run_dir)
  step = checkpoints.intact_steps()[0]
  _, dataset, state = run_directory.restore_run(run_dir)
  del dataset
  trained = (state.params, state.opt_state, state.strength, state.critic)
  return step, [np.asarray(x) for x in jax.tree.leaves(trained)]


def _without_timings(value):
  if isinstance(value, dict):
    return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
  if isinstance(value, list):
    return [_without_timings(v) for v in value]
  return value


def _digest(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _listing(directory):
  """The names in `directory` but event files, named by wall-clock time (`tensorboard` compares
  their points)."""
  return sorted(n for n in os.listdir(directory) if not n.startswith('events.out.tfevents.'))


def snapshot(workdir):
  """{relative run dir: {what: value}} plus the sweep-level files, for equality checks."""
  result = {}
  for run_dir in sorted({os.path.dirname(p) for p in glob.glob(
      os.path.join(workdir, '**', run_directory.CONFIG_FILE), recursive=True)}):
    name = os.path.relpath(run_dir, workdir)
    step, params = _final_params(run_dir)
    entry = {'checkpoint_step': step, 'params': [p.tobytes() for p in params],
             'rows': _without_timings(metric_writer.read_metrics(run_dir)),
             'tensorboard': sorted(p for p in tensorboard_points(run_dir)
                                   if p[0].split('/')[-1] not in TIMINGS)}
    for path in sorted(glob.glob(os.path.join(run_dir, '*.json')) +
                       glob.glob(os.path.join(run_dir, '*.txt'))):
      with open(path) as f:
        entry[os.path.basename(path)] = (_without_timings(json.load(f))
                                         if path.endswith('.json') else f.read())
    for path in sorted(glob.glob(os.path.join(run_dir, run_directory.FIGURES_DIR, '*.png'))):
      entry[os.path.relpath(path, run_dir)] = _digest(path)
    # No stray temporaries, no extra or missing checkpoint steps.
    entry['listing'] = {d: _listing(os.path.join(run_dir, d))
                        for d in ('.', run_directory.FIGURES_DIR, checkpoint.DIRECTORY)}
    result[name] = entry
  result['listing'] = {d: _listing(os.path.join(workdir, d)) for d in ('.', 'figures')
                       if os.path.isdir(os.path.join(workdir, d))}
  for path in sorted(glob.glob(os.path.join(workdir, 'summary.*')) +
                     glob.glob(os.path.join(workdir, 'figures', '*.png'))):
    result[os.path.relpath(path, workdir)] = _digest(path)
  return result


class Killed(BaseException):
  """The simulated SIGKILL (a BaseException, so no `except Exception` in a library stops it)."""


@contextlib.contextmanager
def kill_at(n, monkeypatch):
  """Counts file-system events and training chunks; raises Killed at the n-th (never if None).

  Yields the counter, whose `count` says how many events the run had.
  """

  class Counter:
    count = 0

  counter = Counter()

  def hook(function):
    def wrapped(*args, **kwargs):
      counter.count += 1
      if counter.count == n:
        raise Killed(f'killed at event {n}: {function.__name__}')
      return function(*args, **kwargs)
    return wrapped

  for module, name in ((os, 'replace'), (os, 'rename'), (os, 'remove'),
                       (loop, '_run_steps'), (metric_writer.MetricWriter, 'write')):
    monkeypatch.setattr(module, name, hook(getattr(module, name)))
  try:
    yield counter
  finally:
    monkeypatch.undo()


def sweep_config():
  """The tiny sweep of the crash-safety, shard and notebook tests: MLPs of 16 units, β = 1 and 8,
  6 steps, the smallest sizes the suite takes."""
  config = sweep_test.get_config()
  config.model, config.hidden = 'mlp', 16
  config.betas, config.models_per_step = '1,8', 2
  config.num_train_steps, config.log_every_steps = 6, 2
  config.eval_every_steps, config.checkpoint_every_steps = 3, 2
  config.disentanglement = default.disentanglement_config(  # The smallest sizes the suite takes.
      num_train=20, num_test=10, sampled_batch_size=4, sampled_num_train=10, sampled_num_eval=10,
      num_variance_estimate=20, **test_config.CLASSIFIER_SIZES)
  config.disentanglement.skip_metrics = test_config.SKIP_METRICS
  return config
