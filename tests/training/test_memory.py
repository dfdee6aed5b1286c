"""Settings that cannot fit in memory are refused in one line before anything is written;
`models_per_step=auto` sizes a group to the memory there is."""

import jax
import pytest

from vae import settings
from vae.errors import UserInputError
from vae.training import loop
from vae.training import memory
from vae.training import train


def test_available_memory_is_the_kernels_figure():
  # On a CPU host the figure is /proc/meminfo's MemAvailable (read independently here).
  with open('/proc/meminfo') as f:
    fields = dict(line.split(':', 1) for line in f)
  expected = int(fields['MemAvailable'].split()[0]) * 1024
  available, device = memory.available_bytes()
  assert device == 'this cpu host'
  assert abs(available - expected) < 0.05 * expected


@pytest.mark.parametrize('setting,value', [
    ('hidden', 10**7),  # The parameters alone: 2 × 4,096 × 10⁷ × 4 bytes ≈ 305 GiB.
    ('num_eval_examples', 10**7),  # The eval set: 10⁷ × 64 × 64 × 4 bytes ≈ 153 GiB.
    ('batch_size', 10**6),  # The step's activations (XLA's own count for the compiled step).
])
def test_what_does_not_fit_is_one_line_naming_the_settings(config, tmp_path, setting, value):
  config.model, config.hidden = 'mlp', 16
  config[setting] = value
  workdir = tmp_path / 'run'
  with pytest.raises(UserInputError) as error:
    loop.train_and_evaluate(config, str(workdir))
  message = str(error.value)
  assert message.startswith('training 1 model(s) needs ')
  assert 'GiB of memory and this cpu host has ' in message
  assert f'--config.{setting}={value}' in message
  assert '\n' not in message
  assert not workdir.exists()


def _tiny(config):
  config.model, config.hidden = 'mlp', 16
  dataset = settings.check_config(config)
  return dataset, train.create_model(config, dataset.observation_shape)


@pytest.mark.parametrize('fitting', [1, 3, 6])
def test_auto_group_is_the_largest_that_fits_by_brute_force(config, fitting):
  # `models_per_step=auto`'s bisection against every width compiled and measured: with a device
  # whose free memory holds `fitting` models' program with the margin kept free, it picks the
  # largest width whose bytes fit that budget.
  dataset, model = _tiny(config)
  devices = jax.devices()
  needs = {w: loop.group_bytes(config, dataset, model, w, devices) for w in range(1, 9)}
  available = needs[fitting] / (1 - loop.AUTO_GROUP_MARGIN)
  brute_force = max(w for w, n in needs.items() if n <= (1 - loop.AUTO_GROUP_MARGIN) * available)
  assert brute_force >= fitting
  assert loop.largest_group(config, dataset, model, 8, devices, available) == brute_force
  assert loop.largest_group(config, dataset, model, 8, devices, needs[1] / 2) == 0


def test_auto_group_on_the_cpu_is_every_model(config):
  dataset, model = _tiny(config)
  assert loop.group_size('auto', config, dataset, model, 12) == 12
  assert loop.group_size('5', config, dataset, model, 12) == 5
  assert loop.group_size(3, config, dataset, model, 12) == 3


class _Lowered:
  """Stands in for a lowered program whose compile fails with `error`."""

  def __init__(self, error):
    self.error = error

  def compile(self):
    raise self.error


def test_a_compiler_refusal_for_memory_is_one_line_and_other_errors_pass():
  # The message is the one XLA:TPU gave for 64 Chen MLPs on a v5e (experiments.accelerators).
  refusal = ('RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for HLO\n'
             'temporaries (17.77G) exceeds available HBM (15.75G).')
  with pytest.raises(memory.RefusedByCompiler) as error:
    memory.compile_for_device(_Lowered(jax.errors.JaxRuntimeError(refusal)))
  assert str(error.value) == ' '.join(refusal.split())
  with pytest.raises(jax.errors.JaxRuntimeError, match='INTERNAL'):
    memory.compile_for_device(_Lowered(jax.errors.JaxRuntimeError('INTERNAL: a bug')))
