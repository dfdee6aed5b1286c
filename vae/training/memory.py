"""Whether a run fits in the device's memory, asked before anything is allocated or written."""

import math

import jax

from vae.errors import UserInputError


def available_bytes(device=None) -> tuple[int, str]:
  """(bytes free for new buffers, the device's name): the allocator's limit on GPU/TPU, the
  kernel's MemAvailable on a CPU host."""
  device = device or jax.local_devices()[0]
  stats = device.memory_stats() or {}
  if 'bytes_limit' in stats:
    return stats['bytes_limit'] - stats.get('bytes_in_use', 0), device.device_kind
  with open('/proc/meminfo') as f:
    fields = dict(line.split(':', 1) for line in f)
  return int(fields['MemAvailable'].split()[0]) * 1024, f'this {device.platform} host'


def tree_bytes(tree) -> int:
  return sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def program_bytes(compiled) -> int:
  """Peak bytes of a compiled program: arguments, outputs and temporaries, less what is donated."""
  m = compiled.memory_analysis()
  if m is None:
    return 0
  return (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes -
          m.alias_size_in_bytes)


class RefusedByCompiler(Exception):
  """A program the compiler refuses because it cannot fit the device (XLA:TPU checks this while
  compiling: 'RESOURCE_EXHAUSTED: Ran out of memory on HBM ...'); the message is one line."""


def compile_for_device(lowered):
  """`lowered.compile()`, a refusal for the device's memory raised as `RefusedByCompiler`."""
  try:
    return lowered.compile()
  except jax.errors.JaxRuntimeError as e:
    if 'RESOURCE_EXHAUSTED' not in str(e):
      raise
    raise RefusedByCompiler(' '.join(str(e).split())[:300]) from None


def check_fits(need: int, what: str, settings: str):
  """A one-line UserInputError when `need` bytes exceed what the device has free."""
  available, device = available_bytes()
  if need > available:
    raise UserInputError(f'{what} needs {need / 2**30:.1f} GiB of memory and {device} has '
                         f'{available / 2**30:.1f} GiB free: lower {settings}')
