"""Faults from outside the process: SIGTERM/SIGINT, SIGKILL at random times, a second process
holding the workdir, a full disk, a file-size limit. Each entry point runs as a subprocess, as a
user runs it."""

import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from experiments.configs import sweep_test
from experiments.configs import test as test_config
from tests import ROOT
from tests import disk_limit_driver
from tests import stop_driver
from tests import run_files
from vae.studies import sweep
from vae.training import loop
from vae.training.metric_writer import read_metrics

_STEPS = 60
_OVERRIDES = ('--config.model=mlp', '--config.hidden=16', f'--config.num_train_steps={_STEPS}',
              '--config.log_every_steps=2', '--config.eval_every_steps=10',
              '--config.checkpoint_every_steps=8')


def _config(num_train_steps=_STEPS):
  config = test_config.get_config()
  config.model, config.hidden, config.num_train_steps = 'mlp', 16, num_train_steps
  config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps = 2, 10, 8
  return config


def _command(workdir):
  return ['-m', 'experiments.train', '--config=experiments/configs/test.py',
          f'--workdir={workdir}', *_OVERRIDES]


def _run(*args):
  return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                        timeout=300)


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('reference'))
  loop.train_and_evaluate(_config(), workdir)
  return run_files.snapshot(workdir)


@pytest.mark.parametrize('name,code', [('SIGTERM', 143),
                                       pytest.param('SIGINT', 130, marks=pytest.mark.slow)])
def test_a_stop_signal_saves_and_the_rerun_resumes_exactly(reference, tmp_path, name, code):
  workdir = tmp_path / 'run'
  # The signal arrives during the 7th chunk (steps 13-14): the run finishes it, checkpoints
  # step 14 (not a checkpoint step) and exits with the shell's code for the signal.
  stopped = _run('-m', 'tests.signal_driver', name, '7', *_command(workdir)[1:])
  assert stopped.returncode == code, stopped.stderr
  assert 'Traceback' not in stopped.stderr
  assert stopped.stderr.strip().splitlines()[-1] == (
      f'{name}: stopped at step 14 with 1 model(s) checkpointed; re-run the same command to '
      'resume')
  assert os.path.isdir(workdir / 'checkpoints' / '14')
  assert max(r['step'] for r in read_metrics(workdir)) == 14
  again = _run(*_command(workdir))
  assert again.returncode == 0, again.stderr
  assert 'resuming 1 model(s) from the checkpoint at step 14' in again.stderr
  assert run_files.snapshot(workdir) == reference


@pytest.mark.slow
def test_a_second_ctrl_c_exits_at_once_and_loses_nothing(reference, tmp_path):
  workdir = tmp_path / 'run'
  stopped = _run('-m', 'tests.signal_driver', 'SIGINT', '7,7', *_command(workdir)[1:])
  assert stopped.returncode == 130, stopped.stderr
  assert 'SIGINT again: exiting now, without saving' in stopped.stderr
  assert 'Traceback' not in stopped.stderr
  assert not os.path.exists(workdir / 'checkpoints' / '14')  # It did not wait to save.
  assert _run(*_command(workdir)).returncode == 0
  assert run_files.snapshot(workdir) == reference


@pytest.mark.slow  # 20 s a trial; run by .ci/run's slow pass.
@pytest.mark.parametrize('trial', [0, 1])
def test_sigkill_at_a_random_time_then_rerun(reference, tmp_path, trial):
  workdir = tmp_path / 'run'
  process = subprocess.Popen([sys.executable, *_command(workdir)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  while not os.path.exists(workdir / 'metrics.jsonl') and process.poll() is None:
    time.sleep(0.01)
  time.sleep(random.Random(trial).uniform(0.0, 1.0))
  process.send_signal(signal.SIGKILL)
  process.wait()
  again = _run(*_command(workdir))
  assert again.returncode == 0, again.stderr
  assert run_files.snapshot(workdir) == reference


def test_a_second_process_gets_the_holders_pid_and_host(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time; from vae import files; '
       f'lock = files.DirectoryLock({str(workdir)!r}); print("locked", flush=True); time.sleep(120)'],
      cwd=ROOT, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    refused = _run(*_command(workdir))
    assert refused.returncode == 1
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f'error: --workdir={workdir} is in use by pid {holder.pid} on host ')
    assert 'Traceback' not in refused.stderr
    assert not (workdir / 'metrics.jsonl').exists()
  finally:
    holder.kill()  # SIGKILL: the kernel drops its lock; the stale file must not block.
    holder.wait()
  assert _run(*_command(workdir)).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
  mount_point = tmp_path / 'disk'
  mount_point.mkdir()
  mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', str(mount_point)],
                           capture_output=True)
  if mounted.returncode != 0:
    pytest.skip('mounting a tmpfs needs root')
  yield mount_point
  subprocess.run(['umount', str(mount_point)], check=True)


def _fill(directory, leave):
  """Writes a file until the disk is full, then frees `leave` bytes; returns its path."""
  path = os.path.join(directory, 'filler')
  with open(path, 'wb', buffering=0) as f:
    try:
      while True:
        f.write(b'\0' * 4096)
    except OSError as e:
      assert e.errno == errno.ENOSPC
    f.truncate(max(0, f.tell() - leave))
  return path


# With no byte free the resume's rewrite of metrics.jsonl fails; with 200 kB free training runs
# until a checkpoint (1.6 MB) no longer fits.
@pytest.mark.slow  # 22 s a case; run by .ci/run's slow pass.
@pytest.mark.parametrize('free_bytes', [0, 200_000])
def test_a_full_disk_loses_no_row_and_the_rerun_resumes_exactly(reference, tmp_path,
                                                                small_disk, free_bytes):
  workdir = small_disk / 'run'
  loop.train_and_evaluate(_config(16), str(tmp_path / 'short'))
  shutil.copytree(tmp_path / 'short', workdir)
  os.remove(workdir / 'complete.json')  # Killed after its last checkpoint, before finishing...
  shutil.rmtree(workdir / 'checkpoints' / '16')  # ...and before that checkpoint landed.
  rows = read_metrics(workdir)
  filler = _fill(small_disk, free_bytes)
  full = _run(*_command(workdir))
  assert full.returncode == 1
  assert full.stderr.strip().splitlines()[-1].startswith(f'error: cannot write {workdir}/')
  assert 'Traceback' not in full.stderr and 'Exception ignored' not in full.stderr
  if not free_bytes:
    assert re.search(r': No space left on device \([0-9,]+ bytes free\)$', full.stderr.strip())
    assert read_metrics(workdir) == rows  # The rewrite did not happen: nothing was lost.
  else:  # Every row up to the last checkpoint (step 8) survived; the rest is redone from it.
    assert re.search(r'/checkpoints: No space left on device: a checkpoint needs [0-9,]+ bytes '
                     r'\([0-9,]+ bytes free\)$', full.stderr.strip())
    kept = [r for r in rows if r['step'] <= 8]
    assert read_metrics(workdir)[:len(kept)] == kept
  os.remove(filler)
  again = _run(*_command(workdir))
  assert again.returncode == 0, again.stderr
  assert run_files.snapshot(workdir) == reference


def _ends_in_one_line(run, expected_last_line):
  """Checks that `run` (under tests/disk_limit_driver.py) ended within 30 s of its limit, in
  exactly `expected_last_line`, with no traceback from any thread or atexit hook."""
  end = time.time()
  assert run.returncode == 1, run.stderr
  (limit_set,) = [float(line.split()[1]) for line in run.stdout.splitlines()
                  if line.startswith(disk_limit_driver.LIMIT_SET_AT)]
  assert end - limit_set < 30
  assert 'Traceback' not in run.stderr and 'Exception ignored' not in run.stderr, run.stderr
  lines = run.stderr.strip().splitlines()
  assert lines[-1] == expected_last_line
  assert sum(line.startswith('error:') for line in lines) == 1


# (phase, n, bytes): from the n-th call of the phase on, no file may grow past `bytes`.
_LIMITS = {
    # The first save (step 8) meets it: every checkpoint's data file is larger than 64 KiB.
    'checkpoint': (('checkpoint', 1, 2**16), 'checkpoints: File too large: the checkpoint of '
                   'step 8 was not saved (the file-size limit is 65,536 bytes)'),
    # The row of step 10, between the checkpoints of steps 8 and 16.
    'row': (('row', 5, 1), 'metrics.jsonl: File too large (the file-size limit is 1 byte)'),
}


# 11 s a case: the checkpoint's runs in the slow pass, the row's in the fast one.
@pytest.mark.parametrize('case', ['row', pytest.param('checkpoint', marks=pytest.mark.slow)])
def test_a_file_size_limit_ends_the_run_in_one_line_and_the_rerun_resumes_exactly(
    reference, tmp_path, case):
  (phase, n, size), why = _LIMITS[case]
  workdir = tmp_path / 'run'
  limited = _run('-m', 'tests.disk_limit_driver', phase, str(n), str(size),
                 *_command(workdir)[1:])
  _ends_in_one_line(limited, f'error: cannot write {workdir}/{why}')
  again = _run(*_command(workdir))
  assert again.returncode == 0, again.stderr
  assert run_files.snapshot(workdir) == reference


def _sweep_command(workdir):
  return ['-m', 'experiments.sweep_beta', '--config=experiments/configs/sweep_test.py',
          f'--workdir={workdir}', '--config.model=mlp', '--config.hidden=16']


@pytest.fixture(scope='module')
def sweep_reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('sweep_reference'))
  config = sweep_test.get_config()
  config.model, config.hidden = 'mlp', 16
  sweep.run(config, workdir)
  return run_files.snapshot(workdir)


@pytest.mark.slow  # About 40 s a case (a sweep and its re-run), and 30 s for the reference.
@pytest.mark.parametrize('phase,n,why', [
    # The second member's figures: the first member stays finished.
    ('figures', 2, 'runs/beta_vae_8_seed_0/figures/reconstructions.png: File too large'),
    ('report', 1, 'summary.csv: File too large'),
])
def test_a_sweep_that_meets_a_file_size_limit_ends_in_one_line_and_continues(
    sweep_reference, tmp_path, phase, n, why):
  workdir = tmp_path / 'sweep'
  limited = _run('-m', 'tests.disk_limit_driver', phase, str(n), '1',
                 *_sweep_command(workdir)[1:])
  _ends_in_one_line(limited, f'error: cannot write {workdir}/{why} (the file-size limit is 1 '
                    'byte)')
  assert os.path.exists(workdir / 'runs' / 'beta_vae_1_seed_0' / 'complete.json')
  again = _run(*_sweep_command(workdir))
  assert again.returncode == 0, again.stderr
  assert run_files.snapshot(workdir) == sweep_reference


def _tensorboard_points(workdir):
  """{(tag, step): value} as TensorBoard's own reader loads the run's events."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  events = event_accumulator.EventAccumulator(str(workdir),
                                              size_guidance={event_accumulator.SCALARS: 0})
  events.Reload()
  points = {}
  for tag in events.Tags()['scalars']:
    for event in events.Scalars(tag):
      assert (tag, event.step) not in points, f'{tag} at step {event.step} twice'
      points[tag, event.step] = event.value
  return points


# (phase, n): the n-th call of the phase kills the run (tests/kill_driver.py).
# The finishing phases (12 s each) run in the slow pass; in the fast one, the random kills of
# tests/training/test_crash_safety.py reach them in-process.
@pytest.mark.parametrize('phase,n', [
    pytest.param('row', 12, marks=pytest.mark.slow), ('checkpoint', 3),
    *(pytest.param(phase, 1, marks=pytest.mark.slow) for phase in ('log_px', 'figures',
                                                                   'complete'))])
def test_tensorboard_holds_every_metrics_point_after_a_kill(tmp_path, phase, n):
  workdir = tmp_path / 'run'
  killed = _run('-m', 'tests.kill_driver', phase, str(n), *_command(workdir)[1:])
  assert killed.returncode == -signal.SIGKILL, killed.stderr
  again = _run(*_command(workdir))
  assert again.returncode == 0, again.stderr
  expected = {(f"{r['split']}/{k}", r['step']): float(v) for r in read_metrics(workdir)
              for k, v in r.items() if k not in ('step', 'split')}
  assert ('eval/elbo_gap', _STEPS) in expected
  points = _tensorboard_points(workdir)
  assert points.keys() == expected.keys()
  for key, value in expected.items():  # Events hold float32: the JSON value rounded once.
    assert points[key] == pytest.approx(value, rel=2**-23), key


def _one_model_sweep(workdir):
  return [*_sweep_command(workdir), '--config.betas=1']


@pytest.fixture(scope='module')
def one_model_reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('one_model_reference'))
  config = sweep_test.get_config()
  config.model, config.hidden, config.betas = 'mlp', 16, '1'
  sweep.run(config, workdir)
  return run_files.snapshot(workdir)


_SKIPPED = sweep_test.get_config().disentanglement.skip_metrics.split(',')
STOP_BOUND_S = 15  # From the signal to the exit; each stage's step is well under a second here.


@pytest.mark.slow  # About 25 s a phase: a one-model sweep stopped while finishing, and its re-run.
@pytest.mark.parametrize('phase', [p for p in stop_driver.PHASES if p not in _SKIPPED])
def test_a_stop_while_finishing_ends_within_seconds_and_the_rerun_finishes(
    one_model_reference, tmp_path, phase):
  workdir = tmp_path / 'sweep'
  stopped = _run('-m', 'tests.stop_driver', phase, '1', *_one_model_sweep(workdir)[1:])
  end = time.time()
  assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
  (stop_at,) = [float(line.split()[1]) for line in stopped.stdout.splitlines()
                if line.startswith(stop_driver.STOP_AT)]
  assert end - stop_at < STOP_BOUND_S
  assert 'Traceback' not in stopped.stderr, stopped.stderr
  assert stopped.stderr.strip().splitlines()[-1].startswith('SIGTERM: stopped ')
  assert not os.path.exists(workdir / 'runs' / 'beta_vae_1_seed_0' / 'complete.json')
  again = _run(*_one_model_sweep(workdir))
  assert again.returncode == 0, again.stderr
  assert run_files.snapshot(workdir) == one_model_reference
