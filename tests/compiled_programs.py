"""The training programs of a group, compiled on simulated CPU devices and measured:
`python -m tests.compiled_programs OUT.json` (with JAX_NUM_CPU_DEVICES=8).

For each case (a config the accelerators train) it compiles the loop's first chunk of one model
and of 8 models on one device, of 8 models on an (8, 1) mesh and of 8 models on a (1, 8) mesh,
and writes, per program, `programs.measure` plus the elements all-reduced, and per case the
elements of the gradient (the parameters and the critic's), the batch size and B × latents.
"""

import json
import math
import sys

import jax

from experiments.configs import default
from vae import settings
from vae.readiness import collectives
from vae.readiness import programs
from vae.training import loop
from vae.training import train

WIDTH = 8
CASES = {'conv_xla': {'conv_impl': 'xla'}, 'conv_matmul': {'conv_impl': 'matmul'},
         'chen_mlp': {'model': 'chen_mlp'},
         'ada_gvae': {'conv_impl': 'xla', 'method': 'ada_gvae'},
         'factor_vae': {'conv_impl': 'xla', 'method': 'factor_vae'}}
# (name, width, devices used, mesh_shape)
PROGRAMS = (('one_model', 1, 1, 'auto'), ('one_device', WIDTH, 1, 'auto'),
            ('models', WIDTH, WIDTH, f'{WIDTH},1'), ('data', WIDTH, WIDTH, f'1,{WIDTH}'))


def case_config(overrides):
  config = default.get_config()
  config.update(overrides)
  return config


def _elements(tree):
  return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def measure_case(overrides):
  config = case_config(overrides)
  dataset = settings.check_config(config)
  model = train.create_model(config, dataset.observation_shape)
  result = {}
  for name, width, num_devices, mesh in PROGRAMS:
    config.mesh_shape = mesh
    program, layout = loop.group_program(config, dataset, model, width,
                                         jax.devices()[:num_devices])
    shape = tuple(layout.mesh.devices.shape)
    result[name] = {**programs.measure(program, shape), 'mesh': shape,
                    'all_reduced': collectives.all_reduced_elements(program.as_text())}
  key = jax.random.key(0)
  state = jax.eval_shape(lambda k: train.create_train_state(
      k, config, model, dataset.observation_shape, dataset.num_examples), key)
  critic = None if state.critic is None else state.critic['params']
  result['gradient_elements'] = _elements((state.params, critic))
  result['batch_size'] = config.batch_size
  result['batch_latents'] = config.batch_size * config.latents
  return result


if __name__ == '__main__':
  with open(sys.argv[1], 'w') as f:
    json.dump({name: measure_case(overrides) for name, overrides in CASES.items()}, f)
