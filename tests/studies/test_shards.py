"""A study split over shards: the rule that assigns members, the one-line refusals, and (slow)
three shard processes on one workdir against one process, a killed shard, and the merged report.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests import ROOT
from tests import run_files
from vae.errors import UserInputError
from vae.studies import shards
from vae.studies import sharded_report
from vae.studies import sweep
from vae.training import run_directory


@pytest.mark.parametrize('value,environ,expected', [
    ('0/3', {}, (0, 3)), ('2/3', {}, (2, 3)),
    ('auto', {'SLURM_ARRAY_TASK_ID': '4', 'SLURM_ARRAY_TASK_COUNT': '8'}, (4, 8)),
    # sbatch --array=1-3: tasks 1, 2, 3 are shards 0, 1, 2 of 3.
    ('auto', {'SLURM_ARRAY_TASK_ID': '3', 'SLURM_ARRAY_TASK_MIN': '1',
              'SLURM_ARRAY_TASK_MAX': '3', 'SLURM_ARRAY_TASK_COUNT': '3'}, (2, 3))])
def test_a_shard_is_named_or_read_from_the_job_array(value, environ, expected):
  assert shards.parse(value, environ) == shards.Shard(*expected)


@pytest.mark.parametrize('value,environ,message', [
    ('3/3', {}, "--config.shard='3/3' must be I/N with 0 <= I < N"),
    ('1', {}, "--config.shard='1' must be I/N"),
    ('auto', {}, "--config.shard='auto' reads SLURM_ARRAY_TASK_ID, which is not set"),
    ('auto', {'SLURM_ARRAY_TASK_ID': '9', 'SLURM_ARRAY_TASK_COUNT': '4'},
     "--config.shard='auto': SLURM_ARRAY_TASK_ID=9 is not one of the array's 4 tasks")])
def test_a_bad_shard_is_one_line_naming_the_setting(value, environ, message):
  with pytest.raises(UserInputError, match=message.replace('(', r'\(').replace(')', r'\)')):
    shards.parse(value, environ)


def _owners(strengths, seeds, count):
  return {(v, s): shards.owner('beta_vae', v, s, count) for v in strengths for s in range(seeds)}


def test_growing_a_study_moves_no_member_and_each_strengths_seeds_go_round_the_shards():
  before = _owners([1.0, 2.0, 4.0], 3, count=3)
  after = _owners([0.5, 1.0, 2.0, 4.0, 8.0, 1.000001], 6, count=3)
  assert {m: after[m] for m in before} == before
  for v in (0.5, 1.0, 2.0, 4.0, 8.0, 1.000001):  # Three seeds: one on each shard.
    assert sorted(after[v, s] for s in range(3)) == [0, 1, 2]


def test_the_shards_partition_the_study():
  config = run_files.sweep_config()
  config.num_seeds = 3
  study = sweep.members(config, '/w')
  parts = [sweep.members(config, '/w', shards.Shard(i, 4)) for i in range(4)]
  assert sorted(m.workdir for part in parts for m in part) == sorted(m.workdir for m in study)


def test_a_second_process_of_a_shard_is_refused_in_one_line(tmp_path):
  workdir = str(tmp_path)
  lock = shards.claim(workdir, shards.Shard(1, 3), {'seed': 0})
  try:
    with pytest.raises(UserInputError) as error:
      shards.claim(workdir, shards.Shard(1, 3), {'seed': 0})
    assert str(error.value).startswith(f'--config.shard=1/3 of --workdir={workdir} is in use by '
                                       f'pid {os.getpid()} on host ')
    shards.claim(workdir, shards.Shard(2, 3), {'seed': 0}).release()  # Another shard goes on.
  finally:
    lock.release()


_CONFIG = ['--config=tests/tiny_sweep_config.py', '--config.num_seeds=2',
           '--config.models_per_step=1']


def _shard(workdir, index, count=3):
  return subprocess.Popen(
      [sys.executable, '-m', 'experiments.sweep_beta', *_CONFIG, f'--config.shard={index}/{count}',
       f'--workdir={workdir}'], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)


def _finish(process):
  _, stderr = process.communicate(timeout=600)
  assert process.returncode == 0, stderr[-3000:]


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
  """(config, the study trained by one process with the shards' group size, its snapshot)."""
  config = run_files.sweep_config()
  config.num_seeds, config.models_per_step = 2, 1
  workdir = str(tmp_path_factory.mktemp('one_process'))
  sweep.run(config, workdir)
  return config, workdir, _comparable(run_files.snapshot(workdir))


def _comparable(snapshot):
  """The snapshot without the workdir's listing, which holds `shards/` only where shards ran."""
  return {k: v for k, v in snapshot.items() if k != 'listing'}


@pytest.mark.slow  # Three processes compiling at once on two cores: about 2 minutes.
def test_three_shard_processes_on_one_workdir_equal_one_process(reference, tmp_path):
  _, _, expected = reference
  workdir = str(tmp_path / 'sharded')
  for process in [_shard(workdir, i) for i in range(3)]:
    _finish(process)
  assert not os.path.exists(os.path.join(workdir, 'summary.md'))  # A shard reports nothing.
  report = subprocess.run([sys.executable, '-m', 'experiments.report', f'--workdir={workdir}'],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert report.returncode == 0, report.stderr[-3000:]
  assert report.stdout.startswith('# beta_vae sweep: which β disentangles best')
  assert _comparable(run_files.snapshot(workdir)) == expected
  assert sorted(os.listdir(os.path.join(workdir, shards.SHARDS_DIR))) == [
      '0-of-3', '1-of-3', '2-of-3']


@pytest.mark.slow  # About 2 minutes.
def test_a_killed_shard_reruns_exactly_and_the_report_says_what_is_missing(
    reference, tmp_path, monkeypatch):
  config, _, expected = reference
  workdir = str(tmp_path / 'sharded')
  owned = {i: [m.workdir for m in sweep.members(config, workdir, shards.Shard(i, 2))]
           for i in range(2)}
  assert owned[0] and owned[1]
  _finish(_shard(workdir, 1, count=2))
  killed = _shard(workdir, 0, count=2)
  first = os.path.join(owned[0][0], 'checkpoints', '2')
  deadline = time.time() + 300
  while not os.path.exists(first) and time.time() < deadline:
    time.sleep(0.05)
  killed.send_signal(signal.SIGKILL)
  killed.communicate()
  config = sharded_report.study_config(workdir)
  _, (rows, excluded) = sharded_report.write(workdir, config)
  assert {r['run_dir'] for r in rows} == set(owned[1])
  assert set(excluded) == {os.path.relpath(d, workdir) for d in owned[0]}
  assert set(excluded.values()) <= {'not finished yet', 'not started yet'}
  _finish(_shard(workdir, 0, count=2))
  restored = []
  restore = run_directory.restore_run
  monkeypatch.setattr(run_directory, 'restore_run',
                      lambda path, *a: restored.append(path) or restore(path, *a))
  _, (rows, excluded) = sharded_report.write(workdir, config)
  assert not excluded and len(rows) == 4
  assert sorted(restored) == sorted(owned[0])  # UDR encodes the models it has no codes of.
  assert _comparable(run_files.snapshot(workdir)) == expected
