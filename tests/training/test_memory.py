"""Settings that cannot fit in memory are refused in one line before anything is written."""

import pytest

from vae.errors import UserInputError
from vae.training import loop
from vae.training import memory


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
