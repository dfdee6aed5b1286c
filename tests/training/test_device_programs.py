"""Each device trains only its own models: the compiled training programs of a group on 8
simulated CPU devices (`tests/compiled_programs.py`, one subprocess), in the form an accelerator
compiles (`conv_impl=xla`) and the CPU's (`matmul`), for the conv β-VAE, Chen et al.'s MLP, a
pair method and FactorVAE (a critic).

- (8, 1): one model per device. The program holds no collective of any kind, and its temp
  memory is at most 1/8 of the same 8 models' on one device, plus 10 %. The margin: XLA assigns
  the buffers of a vmapped width of 8 otherwise than 8 programs of one model (the one-device
  program of 8 needs between 7.8 and 8.2 times one model's temp in these cases); a program that
  gathers activations, as one did before `Layout.per_device`, needed 7 times the bound.
- (1, 8): every model's batch split over 8 devices. Only all-reduces, and what they sum is the
  gradient (every parameter and critic parameter) and batch statistics with no batch axis (fewer
  than B elements beyond it: loss terms, per-latent KL); FactorVAE's also carry the batch's codes
  (B × latents), which its permutation across the batch needs whole. Anything per example would
  add at least B elements, an activation at least 64 × 32 × 32 × 32.
"""

import json
import os
import subprocess
import sys

import pytest

from tests import ROOT
from tests import compiled_programs

_MARGIN = 0.10


@pytest.fixture(scope='module')
def measured(tmp_path_factory):
  out = tmp_path_factory.mktemp('programs') / 'programs.json'
  subprocess.run([sys.executable, '-m', 'tests.compiled_programs', str(out)], cwd=ROOT,
                 env={**os.environ, 'JAX_NUM_CPU_DEVICES': '8'}, check=True,
                 capture_output=True, timeout=900)
  with open(out) as f:
    return json.load(f)


@pytest.mark.parametrize('case', compiled_programs.CASES)
def test_one_model_per_device_talks_to_no_device(measured, case):
  program = measured[case]['models']
  assert program['mesh'] == [8, 1]
  assert program['collectives'] == {}, program['collectives']


@pytest.mark.parametrize('case', compiled_programs.CASES)
def test_one_model_per_device_needs_an_eighth_of_the_memory(measured, case):
  one_device, models = measured[case]['one_device'], measured[case]['models']
  assert one_device['mesh'] == [1, 1]
  assert models['temp_gib'] <= (1 + _MARGIN) * one_device['temp_gib'] / 8, (
      models['temp_gib'], one_device['temp_gib'])
  assert models['argument_gib'] <= (1 + _MARGIN) * one_device['argument_gib'] / 8


@pytest.mark.parametrize('case', compiled_programs.CASES)
def test_a_split_batch_all_reduces_the_gradient_alone(measured, case):
  result = measured[case]
  program = result['data']
  assert program['mesh'] == [1, 8]
  assert set(program['collectives']) == {'all-reduce'}, program['collectives']
  beyond_gradient = program['all_reduced'] - result['gradient_elements']
  codes = result['batch_latents'] if case == 'factor_vae' else 0
  assert 0 <= beyond_gradient - codes < result['batch_size'], beyond_gradient


_MEMBERS = '''
import json, sys
import jax, numpy as np
from experiments.configs import test
from vae.training import parallel
result = {}
for mesh, width in (('8,1', 6), ('4,2', 6), ('2,4', 3), ('1,8', 1)):
  config = test.get_config()
  config.mesh_shape = mesh
  layout = parallel.layout(config, width)
  stacked = np.arange(layout.width * 5.0).reshape(layout.width, 5)
  members = layout.members(layout.place({'a': stacked}), width)
  result[mesh] = [[np.asarray(m['a']).tolist(), sorted(d.id for d in m['a'].sharding.device_set)]
                  for m in members]
  result[mesh + ' stacked'] = stacked[:width].tolist()
json.dump(result, sys.stdout)
'''


def test_each_member_is_evaluated_on_one_device():
  # A member's state comes off its row's device whole and lands on the first device alone, so
  # its evaluation programs are one-device programs (not replicated over the mesh).
  process = subprocess.run([sys.executable, '-c', _MEMBERS], cwd=ROOT, capture_output=True,
                           text=True, env={**os.environ, 'JAX_NUM_CPU_DEVICES': '8'},
                           timeout=300, check=True)
  result = json.loads(process.stdout)
  for mesh in ('8,1', '4,2', '2,4', '1,8'):
    assert [values for values, _ in result[mesh]] == result[mesh + ' stacked']
    assert all(devices == [0] for _, devices in result[mesh])
