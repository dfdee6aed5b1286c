"""Devices and hosts (vae/training/parallel.py), on simulated CPU devices in subprocesses.

Each multi-device run is a subprocess with `JAX_NUM_CPU_DEVICES` set, so this process keeps its
one device. The reference is always the same run on one device. Sharded and unsharded programs
sum in another order, so values are compared with allclose, rtol 1e-4, atol 1e-5: after 4 (or 6)
Adam steps of the tiny MLP the parameters differ by ~1 ulp (<= 6e-8) and Adam's moments, which
hold gradients of a ~2,800-nat loss, by <= 8e-6, under 0.07 of that allowance; elbo_gap
(log_px − elbo) cancels ~26x of ~2,800 nats and needs the rtol. Two steps more or fewer move
parameters by ~1e-3 (lr 5e-4); a β of 2 for 1 moves the state by up to 9e3 times the allowance.
"""

import json
import signal
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import ROOT
from tests import parallel_sweep
from tests import run_files
from vae import settings
from vae.errors import UserInputError
from vae.training import metric_writer
from vae.training import parallel

_RTOL, _ATOL = 1e-4, 1e-5


def _run(args, devices, log='-', env=None, check=True, **kwargs):
  environment = {**os.environ, 'JAX_NUM_CPU_DEVICES': str(devices), **(env or {})}
  command = [sys.executable, '-m', 'tests.parallel_driver', log, *args]
  process = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                           timeout=600, check=False, **kwargs)
  if check and process.returncode:
    raise AssertionError(f'{args} exited {process.returncode}:\n{process.stderr[-3000:]}')
  return process


def _sweep(workdir, mesh, steps, devices=8):
  _run(['tests.parallel_sweep', str(workdir), mesh, str(steps)], devices)


def _assert_run_close(ours, theirs, finished_at=None):
  """A model's final parameters and metric rows match the reference run's.

  `finished_at`: the step at which `ours` finished once before it was extended; its eval row
  there also holds that run's final log_px and elbo_gap.
  """
  (step, params), (ref_step, ref_params) = map(run_files._final_params, (ours, theirs))
  assert step == ref_step
  for a, b in zip(params, ref_params, strict=True):
    np.testing.assert_allclose(a, b, rtol=_RTOL, atol=_ATOL, err_msg=ours)
  rows, ref_rows = (run_files._without_timings(metric_writer.read_metrics(d))
                    for d in (ours, theirs))
  assert [(r['step'], r['split']) for r in rows] == [(r['step'], r['split']) for r in ref_rows]
  for row, ref_row in zip(rows, ref_rows):
    if row['step'] == finished_at and row['split'] == 'eval':
      row = {k: v for k, v in row.items() if k not in ('log_px', 'elbo_gap')}
    assert row.keys() == ref_row.keys()
    names = sorted(k for k in row if k != 'split')
    np.testing.assert_allclose([row[k] for k in names], [ref_row[k] for k in names],
                               rtol=_RTOL, atol=_ATOL, err_msg=f'{ours} {row["step"]}')


def _models(workdir):
  """The names of a sweep's model directories (`runs/` also holds the sweep's HParams file)."""
  runs = os.path.join(workdir, 'runs')
  return sorted(n for n in os.listdir(runs) if os.path.isdir(os.path.join(runs, n)))


def _assert_runs_close(workdir, reference, finished_at=None):
  """Every member of a sweep matches the reference sweep's."""
  names = _models(reference)
  assert names == _models(workdir)
  for name in names:
    _assert_run_close(os.path.join(workdir, 'runs', name), os.path.join(reference, 'runs', name),
                      finished_at)


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
  """The 8-model sweep on this process's one device, 4 and 6 steps."""
  root = tmp_path_factory.mktemp('one_device')
  for steps in (4, 6):
    parallel_sweep.run(str(root / str(steps)), num_train_steps=steps)
  return root


def test_liveness_watch_loses_a_silent_process_and_names_an_announced_exit():
  seen, look = {}, parallel.lost_process
  # Process 2 has not beaten yet when first looked at: its wait starts then, not at time 0.
  assert look(seen, {1: '1', 2: None}, [], me=0, now=0.0, lost_after_s=30) is None
  assert look(seen, {1: '2', 2: None}, [], me=0, now=20.0, lost_after_s=30) is None
  assert look(seen, {1: '3', 2: '1'}, [], me=0, now=29.0, lost_after_s=30) is None
  assert look(seen, {1: '3', 2: '2'}, [], me=0, now=59.0, lost_after_s=30) is None
  assert look(seen, {1: '3', 2: '3'}, [], me=0, now=59.5, lost_after_s=30) == (
      1, 'it has not signalled for 30 s')  # Still at '3' since 29 s.
  # An announced exit is named at once; this process's own is not another's.
  exits = [('vae/exit/0', 'error: cannot write X: No space left on device')]
  assert look({}, {1: '1'}, exits, me=0, now=0.0) is None
  assert look({}, {0: '1'}, exits, me=1, now=0.0) == (
      0, 'it ended with: cannot write X: No space left on device')


def test_auto_mesh_rule():
  # A single run is data-parallel over every device; a sweep takes the largest divisor of the
  # device count that does not exceed its width for `models`.
  assert parallel.mesh_shape('auto', 1, 8) == (1, 8)
  assert parallel.mesh_shape('auto', 8, 8) == (8, 1)
  assert parallel.mesh_shape('auto', 30, 8) == (8, 1)
  assert parallel.mesh_shape('auto', 3, 8) == (2, 4)
  assert parallel.mesh_shape('auto', 5, 6) == (3, 2)
  assert parallel.mesh_shape('4,2', 3, 8) == (4, 2)


@pytest.mark.parametrize('setting, message', [
    ('4,2', 'this run has 1'), ('x', 'expected auto or M,D'), ('0,1', 'expected auto or M,D')])
def test_bad_mesh_is_one_line(config, setting, message):
  config.mesh_shape = setting
  with pytest.raises(UserInputError, match=message) as error:
    settings.check_config(config)
  assert '--config.mesh_shape' in str(error.value) and '\n' not in str(error.value)


def test_distributed_without_coordinator_is_one_line(tmp_path):
  workdir = tmp_path / 'run'
  process = _run(['experiments.train', '--config=experiments/configs/test.py',
                  f'--workdir={workdir}', '--config.distributed=true'], devices=1, check=False,
                 env={'SLURM_JOB_ID': '', 'TPU_WORKER_ID': ''})
  assert process.returncode != 0
  lines = [line for line in process.stderr.splitlines() if line.startswith('error:')]
  assert len(lines) == 1 and '--config.coordinator_address' in lines[0], process.stderr[-2000:]
  assert not workdir.exists()


def test_a_batch_that_does_not_split_over_data_is_one_line(tmp_path):
  workdir = tmp_path / 'run'
  process = _run(['experiments.train', '--config=experiments/configs/test.py',
                  f'--workdir={workdir}', '--config.mesh_shape=1,8', '--config.batch_size=12'],
                 devices=8, check=False)
  assert process.returncode != 0
  lines = [line for line in process.stderr.splitlines() if line.startswith('error:')]
  assert lines == ['error: --config.batch_size=12 does not split over the mesh\'s 8 '
                   'data-parallel devices (--config.mesh_shape=1,8): use a multiple of 8'], \
      process.stderr[-2000:]
  assert not workdir.exists()


@pytest.mark.slow
@pytest.mark.parametrize('mesh, all_reduce', [('8,1', False), ('4,2', True)])
def test_sweep_on_a_mesh_matches_one_device(tmp_path, reference, mesh, all_reduce):
  _sweep(tmp_path, mesh, 4)
  _assert_runs_close(tmp_path, reference / '4')
  with open(tmp_path / 'programs.json') as f:
    (program,) = json.load(f)
  # Placement: every output leaf (state and metrics) is sharded over `models`; independent
  # models need no collective, a data-parallel axis needs XLA's gradient all-reduce.
  assert program['output_specs'] == ["P('models',)"]
  assert program['all_reduce'] is all_reduce


@pytest.mark.slow
def test_data_parallel_single_run_matches_one_device(tmp_path):
  args = ['experiments.train', '--config=experiments/configs/test.py', '--config.model=mlp',
          '--config.hidden=16']
  _run([*args, f'--workdir={tmp_path / "one"}'], devices=1)
  _run([*args, f'--workdir={tmp_path / "eight"}', '--config.mesh_shape=1,8'], devices=8)
  _assert_run_close(str(tmp_path / 'eight'), str(tmp_path / 'one'))


@pytest.mark.slow
def test_checkpoints_restore_onto_other_device_counts(tmp_path, reference):
  _sweep(tmp_path, 'auto', 4, devices=8)
  expected = parallel_sweep.restored_leaves(str(tmp_path))  # Restored on this one device.
  _run(['tests.parallel_sweep', str(tmp_path), 'auto', 'restore'], devices=2)
  with np.load(tmp_path / 'restored.npz') as on_two:
    assert sorted(on_two) == sorted(expected)
    for name, value in expected.items():
      np.testing.assert_array_equal(on_two[name], value, err_msg=name)
  # Resuming the 8-device run on 2 devices continues it as the one-device run went on.
  _sweep(tmp_path, 'auto', 6, devices=2)
  _assert_runs_close(tmp_path, reference / '6', finished_at=4)


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_write_each_file_once(tmp_path):
  args = ['experiments.sweep_beta', '--config=experiments/configs/sweep_test.py',
          '--config.model=mlp', '--config.hidden=16']
  _run([*args, f'--workdir={tmp_path / "single"}'], devices=1)
  port, workdir = _free_port(), tmp_path / 'cluster'
  cluster = ['--config.distributed=true', f'--config.coordinator_address=localhost:{port}',
             '--config.num_processes=2']
  environment = {**os.environ, 'JAX_NUM_CPU_DEVICES': '2'}
  processes = [subprocess.Popen(
      [sys.executable, '-m', 'tests.parallel_driver', str(tmp_path / f'written_{i}.txt'), *args,
       f'--workdir={workdir}', *cluster, f'--config.process_id={i}'],
      cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)]
  outputs = [p.communicate(timeout=600) for p in processes]
  for p, (_, err) in zip(processes, outputs):
    assert p.returncode == 0, err[-3000:]
  _assert_runs_close(workdir, tmp_path / 'single')
  written = []
  for i in range(2):
    with open(tmp_path / f'written_{i}.txt') as f:
      written.append({line.strip() for line in f if line.startswith(str(workdir))})
  assert not written[0] & written[1], sorted(written[0] & written[1])[:5]
  runs = [str(workdir / 'runs' / name) for name in _models(workdir)]
  assert len(runs) == 2
  # Each process owns one model (its devices hold it); process 0 writes every checkpoint and
  # the summary.
  for i, run in enumerate(runs):
    owned = {p for p in written[i] if p.startswith(os.path.join(run, 'metrics.jsonl'))}
    assert owned, f'process {i} wrote no metrics for {run}'
    assert not any(p.startswith(os.path.join(run, 'checkpoints')) for p in written[1])
  assert any('summary.md' in p for p in written[0])
  assert os.path.exists(workdir / 'summary.md')


_LONG_SWEEP = ['experiments.sweep_beta', '--config=experiments/configs/sweep_test.py',
               '--config.model=mlp', '--config.hidden=16', '--config.num_train_steps=600',
               '--config.log_every_steps=10', '--config.eval_every_steps=300',
               '--config.checkpoint_every_steps=100']


def _cluster(workdir, file_size_limit_0=None):
  """Two processes of `_LONG_SWEEP` on `workdir`, started; process 0 under a file-size limit
  (bytes, from its first checkpoint on) when given."""
  port = _free_port()
  environment = {**os.environ, 'JAX_NUM_CPU_DEVICES': '2'}
  limited = ['tests.disk_limit_driver', 'checkpoint', '1', str(file_size_limit_0)]
  return [subprocess.Popen(
      [sys.executable, '-m', *(limited if i == 0 and file_size_limit_0 else []), *_LONG_SWEEP,
       f'--workdir={workdir}', '--config.distributed=true',
       f'--config.coordinator_address=localhost:{port}', '--config.num_processes=2',
       f'--config.process_id={i}'], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True) for i in range(2)]


def _finished(processes):
  for process in processes:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  """`_LONG_SWEEP` run to its end by two processes."""
  workdir = tmp_path_factory.mktemp('uninterrupted')
  _finished(_cluster(workdir))
  return workdir


def _ended_in_one_line(process, line, since, within_s=60):
  """`process` exits 1 within `within_s` of `since`, its last line `line`, no traceback."""
  _, stderr = process.communicate(timeout=within_s + 60)
  assert time.time() - since < within_s, stderr[-3000:]
  assert process.returncode == 1, stderr[-3000:]
  assert 'Traceback' not in stderr and 'Check failure' not in stderr, stderr[-3000:]
  assert stderr.strip().splitlines()[-1] == line


def _lost_line(process, why):
  return (f'error: lost process {process} of the 2 of --config.distributed ({why}); re-run the '
          'same command on every host to resume from the last checkpoint')


# A kill is sent once either model has its step-100 checkpoint, in the middle of the 600 steps.
@pytest.mark.slow  # Two two-process sweeps each, plus the shared reference: about 2 minutes each.
@pytest.mark.parametrize('lost', [1, 0])  # 0 also hosts the coordination service's process.
def test_a_lost_process_ends_the_other_in_one_line_and_both_rerun_exactly(
    tmp_path, uninterrupted, lost):
  workdir = tmp_path / 'cluster'
  processes = _cluster(workdir)
  while not any(os.path.exists(workdir / 'runs' / name / 'checkpoints' / '100')
                for name in ('beta_vae_1_seed_0', 'beta_vae_8_seed_0')):
    assert all(p.poll() is None for p in processes)
    time.sleep(0.1)
  processes[lost].send_signal(signal.SIGKILL)
  killed = time.time()
  _ended_in_one_line(processes[1 - lost], _lost_line(
      lost, f'it has not signalled for {parallel.LOST_AFTER_S:.0f} s'), since=killed)
  processes[lost].communicate()
  _finished(_cluster(workdir))
  assert run_files.snapshot(workdir) == run_files.snapshot(uninterrupted)


@pytest.mark.slow
def test_a_full_disk_on_process_0_ends_both_in_one_line_and_both_rerun_exactly(
    tmp_path, uninterrupted):
  """Process 0 cannot write its first checkpoint (step 100, 1.2 MB) under a 600 kB file-size
  limit; process 1 ends within a liveness beat, naming process 0's line."""
  workdir = tmp_path / 'cluster'
  processes = _cluster(workdir, file_size_limit_0=600_000)
  processes[0].wait(timeout=600)
  failed = time.time()
  full = (f'cannot write {workdir}/runs/beta_vae_1_seed_0/checkpoints: File too large: the '
          'checkpoint of step 100 was not saved (the file-size limit is 600,000 bytes)')
  _ended_in_one_line(processes[0], f'error: {full}', since=failed)
  _ended_in_one_line(processes[1], _lost_line(0, f'it ended with: {full}'), since=failed)
  _finished(_cluster(workdir))
  assert run_files.snapshot(workdir) == run_files.snapshot(uninterrupted)
