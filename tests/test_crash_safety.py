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

from experiments.configs import sweep_test
from experiments.configs import test as test_config
from tests import run_files
from vae import checkpoint
from vae import files
from vae import run_loop
from vae import sweep
from vae.errors import UserInputError
from vae.metric_writer import read_metrics


def single_config():
  config = test_config.get_config()
  config.model, config.hidden = 'mlp', 16
  # Checkpoints between log rows, evals between checkpoints: resume must restore the pending
  # train metrics to rewrite the same rows.
  config.num_train_steps, config.log_every_steps = 12, 3
  config.eval_every_steps, config.checkpoint_every_steps = 6, 4
  return config


def sweep_config():
  config = sweep_test.get_config()
  config.model, config.hidden = 'mlp', 16
  config.betas, config.models_per_step = '1,4,8', 2  # Groups of 2 and 1.
  config.num_train_steps, config.log_every_steps = 6, 2
  config.eval_every_steps, config.checkpoint_every_steps = 3, 2
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
    events = _count_events(lambda: run_loop.train_and_evaluate(single_config(), workdir),
                           monkeypatch)
  return events, run_files.snapshot(workdir)


@pytest.fixture(scope='module')
def sweep_reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('sweep_reference'))
  with pytest.MonkeyPatch.context() as monkeypatch:
    events = _count_events(lambda: sweep.run(sweep_config(), workdir), monkeypatch)
  return events, run_files.snapshot(workdir)


def test_uninterrupted_runs_are_reproducible(single_reference, tmp_path):
  # The premise of every comparison below: two uninterrupted runs agree bit for bit.
  _, reference = single_reference
  workdir = str(tmp_path / 'run')
  run_loop.train_and_evaluate(single_config(), workdir)
  assert run_files.snapshot(workdir) == reference


@pytest.mark.parametrize('trial', range(6))
def test_single_run_killed_at_random_moments_resumes_exactly(single_reference, tmp_path,
                                                             monkeypatch, trial):
  events, reference = single_reference
  kills = random.Random(trial).sample(range(1, events + 1), 3)
  workdir = str(tmp_path / 'run')
  _kill_and_rerun(lambda: run_loop.train_and_evaluate(single_config(), workdir), kills,
                  monkeypatch)
  assert run_files.snapshot(workdir) == reference, kills


@pytest.mark.parametrize('trial', range(4))
def test_sweep_killed_at_random_moments_resumes_exactly(sweep_reference, tmp_path, monkeypatch,
                                                        trial):
  events, reference = sweep_reference
  kills = random.Random(100 + trial).sample(range(1, events + 1), 4)
  workdir = str(tmp_path / 'sweep')
  _kill_and_rerun(lambda: sweep.run(sweep_config(), workdir), kills, monkeypatch)
  assert run_files.snapshot(workdir) == reference, kills


def test_every_event_of_a_single_run_is_survived(single_reference, tmp_path, monkeypatch):
  # Exhaustive over one run's events: a kill at each one, then a re-run, never loses data.
  events, reference = single_reference
  for n in range(1, events + 1):
    workdir = str(tmp_path / f'run_{n}')
    _kill_and_rerun(lambda: run_loop.train_and_evaluate(single_config(), workdir), [n],
                    monkeypatch)
    assert run_files.snapshot(workdir) == reference, n
    shutil.rmtree(workdir)


def test_a_regrouped_resume_gives_the_same_bits(sweep_reference, tmp_path):
  # Member beta_4 finished; its group mate beta_1 lost every checkpoint but the first: beta_1
  # retrains beside a placeholder in beta_4's slot, so the vmapped width, and its bits, match.
  _, reference = sweep_reference
  workdir = str(tmp_path / 'sweep')
  sweep.run(sweep_config(), workdir)
  run = sweep.run_dir(workdir, 1.0, 0)
  for step in checkpoint.Checkpoints(run).steps():
    shutil.rmtree(os.path.join(run, 'checkpoints', str(step)))
  os.remove(os.path.join(run, 'complete.json'))
  sweep.run(sweep_config(), workdir)
  assert run_files.snapshot(workdir) == reference
