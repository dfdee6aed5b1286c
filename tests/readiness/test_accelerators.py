"""`python -m experiments.accelerators`: bad flags are one line, and a target whose compiler is
not installed (the test venv has neither the CUDA plugin nor libtpu) is one line saying so,
which `--check` turns into a failure. The compiles themselves run in CI's compilers' venv."""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests import ROOT


def _accelerators(*args):
  return subprocess.run([sys.executable, '-m', 'experiments.accelerators', *args], cwd=ROOT,
                        env={**os.environ, 'JAX_PLATFORMS': 'cpu'}, capture_output=True,
                        text=True, timeout=300, check=False)


@pytest.mark.parametrize('flag, message', [
    ('--targets=h100', "error: --targets='h100': each entry must be NAME:DEVICES with NAME from "
                       'h100, h200, v5e, v6e and DEVICES a positive integer'),
    ('--workloads=conv,vit', "error: --workloads='conv,vit' must list names from: conv, "
                             'chen_mlp, ada_gvae, factor_vae'),
    ('--widths=8,0', "error: --widths='8,0' must be comma-separated positive integers"),
])
def test_a_bad_flag_is_one_line(flag, message):
  process = _accelerators(flag)
  assert process.returncode == 1
  assert process.stderr.strip().splitlines()[-1] == message


@pytest.mark.skipif(bool(importlib.util.find_spec('libtpu') or
                         importlib.util.find_spec('jax_cuda12_plugin')),
                    reason='this venv has the compilers (requirements-accelerators.txt)')
def test_a_target_without_its_compiler_is_one_line():
  process = _accelerators('--targets=h100:8,v5e:1')
  assert process.returncode == 0, process.stderr[-2000:]
  lines = [line for line in process.stderr.splitlines() if 'compiler here' in line]
  assert len(lines) == 2
  assert 'h100×8: no CUDA compiler here' in lines[0]
  assert 'v5e×1: no TPU compiler here' in lines[1]
  assert all(line.endswith('pip install -r requirements-accelerators.txt') for line in lines)
  checked = _accelerators('--targets=h100:8', '--check')
  assert checked.returncode == 1
  assert checked.stderr.strip().splitlines()[-1].startswith(
      'error: 1 readiness problem(s): h100×8: no CUDA compiler here')
