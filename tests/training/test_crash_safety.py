"""Runs that survive any crash exactly: kills at seeded random moments, damaged checkpoints,
signals, a second writer, torn and damaged files.

Each kill is followed by a re-run, and what the runs left must equal an uninterrupted run's,
bit for bit (parameters, metrics rows, TensorBoard points, scores, summaries, figures): only the
wall-clock timings differ (`run_files.TIMINGS`). The models are tiny MLPs so that the many
re-runs stay within the suite's budget; the conv model goes through the same loop.
"""

import os
import random
import shutil

import pytest

from experiments.configs import test as test_config
from tests import run_files
from vae import files
from vae import settings
from vae.errors import UserInputError
from vae.studies import report
from vae.studies import sweep
from vae.training import checkpoint
from vae.training import loop
from vae.training import run_directory
from vae.training.metric_writer import read_metrics


def single_config():
  config = test_config.get_config()
  config.model, config.hidden = 'mlp', 16
  # Checkpoints between log rows, evals between checkpoints: resume must restore the pending
  # train metrics to rewrite the same rows.
  config.num_train_steps, config.log_every_steps = 12, 3
  config.eval_every_steps, config.checkpoint_every_steps = 6, 4
  return config


def _count_events(job, monkeypatch):
  with run_files.kill_at(None, monkeypatch) as counter:
    job()
  return counter.count


def _kill_and_rerun(job, kills, monkeypatch):
  """Runs `job` killed at each event number of `kills` in turn, then once to the end."""
  for n in kills:
    with run_files.kill_at(n, monkeypatch):
      try:
        job()
      except run_files.Killed:
        pass
  job()


@pytest.fixture(scope='module')
def single_reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('single_reference'))
  with pytest.MonkeyPatch.context() as monkeypatch:
    events = _count_events(lambda: loop.train_and_evaluate(single_config(), workdir),
                           monkeypatch)
  return events, run_files.snapshot(workdir)


@pytest.fixture(scope='module')
def sweep_reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('sweep_reference'))
  with pytest.MonkeyPatch.context() as monkeypatch:
    events = _count_events(lambda: sweep.run(run_files.sweep_config(), workdir), monkeypatch)
  return events, run_files.snapshot(workdir)


def test_uninterrupted_runs_are_reproducible(single_reference, tmp_path):
  # The premise of every comparison below: two uninterrupted runs agree bit for bit.
  _, reference = single_reference
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(single_config(), workdir)
  assert run_files.snapshot(workdir) == reference


@pytest.mark.parametrize('trial', range(6))
def test_single_run_killed_at_random_moments_resumes_exactly(single_reference, tmp_path,
                                                             monkeypatch, trial):
  events, reference = single_reference
  kills = random.Random(trial).sample(range(1, events + 1), 3)
  workdir = str(tmp_path / 'run')
  _kill_and_rerun(lambda: loop.train_and_evaluate(single_config(), workdir), kills,
                  monkeypatch)
  assert run_files.snapshot(workdir) == reference, kills


@pytest.mark.parametrize('trial', [0] + [pytest.param(t, marks=pytest.mark.slow)
                                         for t in range(1, 6)])
def test_sweep_killed_at_random_moments_resumes_exactly(sweep_reference, tmp_path, monkeypatch,
                                                        trial):
  events, reference = sweep_reference
  kills = random.Random(100 + trial).sample(range(1, events + 1), 4)
  workdir = str(tmp_path / 'sweep')
  _kill_and_rerun(lambda: sweep.run(run_files.sweep_config(), workdir), kills, monkeypatch)
  assert run_files.snapshot(workdir) == reference, kills


@pytest.mark.slow
def test_every_event_of_a_single_run_is_survived(single_reference, tmp_path, monkeypatch):
  # Exhaustive over one run's events: a kill at each one, then a re-run, never loses data.
  events, reference = single_reference
  for n in range(1, events + 1):
    workdir = str(tmp_path / f'run_{n}')
    _kill_and_rerun(lambda: loop.train_and_evaluate(single_config(), workdir), [n],
                    monkeypatch)
    assert run_files.snapshot(workdir) == reference, n
    shutil.rmtree(workdir)


@pytest.mark.slow  # 31 s; run by .ci/run's slow pass.
def test_a_regrouped_resume_gives_the_same_bits(sweep_reference, tmp_path):
  # Member beta_8 finished; its group mate beta_1 lost every checkpoint: beta_1 retrains beside
  # a placeholder in beta_8's slot, so the vmapped width, and its bits, match.
  _, reference = sweep_reference
  workdir = str(tmp_path / 'sweep')
  sweep.run(run_files.sweep_config(), workdir)
  run = sweep.run_dir(workdir, 'beta_vae', 1.0, 0)
  for step in checkpoint.Checkpoints(run).steps():
    shutil.rmtree(os.path.join(run, 'checkpoints', str(step)))
  os.remove(os.path.join(run, 'complete.json'))
  sweep.run(run_files.sweep_config(), workdir)
  assert run_files.snapshot(workdir) == reference


def _largest_file(step_dir):
  paths = [os.path.join(d, n) for d, _, names in os.walk(os.path.join(step_dir, 'state'))
           for n in names]
  return max(paths, key=os.path.getsize)


def _truncate(step_dir):
  path = _largest_file(step_dir)
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)


def _flip_three_bytes(step_dir):
  path = _largest_file(step_dir)
  with open(path, 'r+b') as f:
    data = bytearray(f.read())
    for offset in (len(data) // 4, len(data) // 2, 3 * len(data) // 4):
      data[offset] ^= 0xFF
    f.seek(0)
    f.write(data)


def _delete_data_file(step_dir):
  os.remove(_largest_file(step_dir))


def _delete_metadata(step_dir):
  os.remove(os.path.join(step_dir, 'state', '_METADATA'))


def _delete_manifest(step_dir):
  os.remove(os.path.join(step_dir, checkpoint.MANIFEST))


def _empty(step_dir):
  shutil.rmtree(step_dir)
  os.mkdir(step_dir)


def _half_written(step_dir):
  # A save killed before its rename: the step exists only as a partial staging directory.
  stage = f'{step_dir}{files.TMP_MARK}12345'
  os.rename(step_dir, stage)
  os.remove(os.path.join(stage, checkpoint.MANIFEST))


_DAMAGE = {'truncated data file': (_truncate, 'hash mismatch'),
           'flipped bytes': (_flip_three_bytes, 'hash mismatch'),
           'deleted data file': (_delete_data_file, 'missing files'),
           'missing _METADATA': (_delete_metadata, 'missing files'),
           'missing manifest': (_delete_manifest, 'missing files'),
           'emptied step directory': (_empty, 'missing files'),
           'half-written step': (_half_written, None)}


def _run_to(workdir, num_train_steps):
  config = single_config()
  config.num_train_steps = num_train_steps
  return loop.train_and_evaluate(config, workdir)


@pytest.mark.parametrize('kind', sorted(_DAMAGE))
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(single_reference, tmp_path,
                                                                    kind):
  _, reference = single_reference
  workdir = str(tmp_path / 'run')
  _run_to(workdir, 8)  # Checkpoints at steps 4 and 8.
  damage, reason = _DAMAGE[kind]
  damage(os.path.join(workdir, 'checkpoints', '8'))
  checkpoints = checkpoint.Checkpoints(workdir)
  assert checkpoints.damage(8) == reason if reason else checkpoints.steps() == [4]
  assert checkpoints.intact_steps() == [4]
  # Evaluation uses the newest intact step; training resumes from it and ends where an
  # uninterrupted 12-step run ends.
  assert int(run_directory.restore_run(workdir)[2].step) == 4
  _run_to(workdir, 12)
  assert run_files.snapshot(workdir) == reference


def test_a_summary_row_comes_from_one_step_when_scores_fell_back(tmp_path):
  # Complete at step 8, then its checkpoint is damaged: the scores come from step 4, and the row
  # must not pair them with step 8's eval row (this run has no eval row at step 4).
  workdir = str(tmp_path / 'run')
  _run_to(workdir, 8)
  _flip_three_bytes(os.path.join(workdir, 'checkpoints', '8'))
  assert run_directory.evaluate_run(workdir)['step'] == 4
  (row,), excluded = report.collect(workdir)
  assert not excluded and row['step'] == 4
  assert not {name for name in report.EVAL_COLUMNS if name in row}
  assert row['note'] == ('scores and eval row of step 4, an earlier checkpoint than the final '
                         'step 8')
  report.write_report(workdir)
  with open(os.path.join(workdir, 'summary.md')) as f:
    assert f'- run: {row["note"]}' in f.read()


def test_no_intact_checkpoint_is_a_one_line_error(tmp_path):
  workdir = str(tmp_path / 'run')
  _run_to(workdir, 8)
  _flip_three_bytes(os.path.join(workdir, 'checkpoints', '8'))
  _delete_manifest(os.path.join(workdir, 'checkpoints', '4'))
  rows = read_metrics(workdir)
  message = (f'no intact checkpoint in --workdir={workdir}; damaged: 8 (hash mismatch), '
             '4 (missing files)')
  with pytest.raises(UserInputError) as error:
    _run_to(workdir, 12)
  assert str(error.value) == message
  with pytest.raises(UserInputError) as error:
    run_directory.restore_run(workdir)
  assert str(error.value) == message
  assert read_metrics(workdir) == rows  # Nothing was trained on, or rewritten.


def test_checkpoints_replaced_by_a_file(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  (workdir / 'checkpoints').write_text('')
  with pytest.raises(UserInputError, match='checkpoints is not a directory'):
    _run_to(str(workdir), 4)


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_not(tmp_path):
  workdir = str(tmp_path / 'run')
  os.makedirs(workdir)
  holder = files.DirectoryLock(workdir)  # Another open file description: another writer.
  with pytest.raises(UserInputError,
                     match=f'--workdir={workdir} is in use by pid {os.getpid()} on host '):
    _run_to(workdir, 4)
  holder.release()
  # A lock file left by a killed process holds no lock: the next run takes it.
  with open(os.path.join(workdir, files.LOCK_FILE), 'w') as f:
    f.write('pid 999999 on host elsewhere\n')
  assert _run_to(workdir, 4)['loss'] > 0


def test_a_sweep_member_being_trained_elsewhere_is_refused(tmp_path):
  config = run_files.sweep_config()
  workdir = str(tmp_path / 'sweep')
  member = sweep.run_dir(workdir, 'beta_vae', 8.0, 0)
  os.makedirs(member)
  holder = files.DirectoryLock(member)
  with pytest.raises(UserInputError, match=f'--workdir={member} is in use by pid'):
    sweep.run(config, workdir)
  holder.release()


def test_torn_and_damaged_metrics_lines(single_reference, tmp_path):
  _, reference = single_reference
  workdir = str(tmp_path / 'run')
  _run_to(workdir, 8)
  path = os.path.join(workdir, 'metrics.jsonl')
  with open(path) as f:
    good = f.read()
  with open(path, 'a') as f:
    f.write('{"step": 9, "split": "tr')  # An append cut short by a kill or a full disk.
  assert len(read_metrics(workdir)) == good.count('\n')  # Readable, the torn line dropped.
  with open(path, 'ab') as f:
    f.write(b'\xc3')  # Cut inside a two-byte UTF-8 character ('\xc3\xa9' is 'é').
  assert len(read_metrics(workdir)) == good.count('\n')
  # As if killed before its step-8 checkpoint: the resume from step 4 drops the torn line.
  shutil.rmtree(os.path.join(workdir, 'checkpoints', '8'))
  os.remove(os.path.join(workdir, 'complete.json'))
  _run_to(workdir, 12)
  assert run_files.snapshot(workdir) == reference
  lines = good.split('\n')
  lines[2] = 'garbage'
  with open(path, 'w') as f:
    f.write('\n'.join(lines))
  with pytest.raises(UserInputError, match=f'{path} line 3 is damaged'):
    read_metrics(workdir)
  with pytest.raises(UserInputError, match=f'{path} line 3 is damaged'):
    _run_to(workdir, 16)
  lines[2] = '\udcff'  # A whole line of bytes that are not UTF-8 (written back as b'\xff').
  with open(path, 'wb') as f:
    f.write('\n'.join(lines).encode('utf-8', 'surrogateescape'))
  with pytest.raises(UserInputError, match=f'{path} line 3 is damaged'):
    read_metrics(workdir)


def test_a_truncated_config_is_a_one_line_error(tmp_path):
  workdir = str(tmp_path / 'run')
  _run_to(workdir, 4)
  path = os.path.join(workdir, 'config.json')
  with open(path, 'r+') as f:
    f.truncate(40)
  with pytest.raises(UserInputError, match=f'{path} \\(the run config\\) is damaged'):
    run_directory.restore_run(workdir)
  with open(path, 'wb') as f:
    f.write(b'{"seed": \xff}')  # Bytes that are not UTF-8.
  with pytest.raises(UserInputError, match=f'{path} \\(the run config\\) is damaged: not UTF-8 '
                     'at byte 9'):
    run_directory.restore_run(workdir)


def test_distinct_betas_never_share_a_run_directory():
  assert sweep.run_dir('w', 'beta_vae', 1.0, 0) != sweep.run_dir('w', 'beta_vae', 1.000001, 0)
  assert sweep.run_dir('w', 'beta_vae', 16.0, 0).endswith('beta_vae_16_seed_0')
  for bad in ('1,nan', 'nan'):
    with pytest.raises(UserInputError, match='--config.betas='):
      settings.parse_betas(bad)
