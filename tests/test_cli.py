"""The entry point: one-line errors with a non-zero exit, and a run that writes its outputs."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
  return subprocess.run([sys.executable, '-m', 'experiments.train', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('override,message', [
    ('--config.beta=-1', 'error: --config.beta=-1.0 must be >= 0'),
    ('--config.model=resnet', "error: unknown model 'resnet' (--config.model); allowed: conv, mlp"),
])
def test_bad_setting_is_one_line_and_non_zero(tmp_path, override, message):
  workdir = tmp_path / 'run'
  result = _run('--config=experiments/configs/test.py', f'--workdir={workdir}', override)
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1] == message
  assert 'Traceback' not in result.stderr
  assert not workdir.exists()


def test_test_config_runs_and_resumes(tmp_path):
  workdir = tmp_path / 'run'
  args = ('--config=experiments/configs/test.py', f'--workdir={workdir}')
  first = _run(*args)
  assert first.returncode == 0, first.stderr
  assert 'final eval' in first.stderr
  second = _run(*args)
  assert second.returncode == 0, second.stderr
  assert 'resuming 1 model(s) from the checkpoint at step 4' in second.stderr
