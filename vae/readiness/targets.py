"""The accelerators a program is compiled for without one: each target's devices (a deviceless
topology), its memory and, for TPUs, its published peaks.

GPU targets are XLA's own descriptions of the chips (`specs/*.txtpb`, GpuTargetConfigProto, copied
from openxla/xla with their source named in their first line), given to
`jax.experimental.topologies.get_topology_desc` with the CUDA plugin installed and JAX on the CPU
(`JAX_PLATFORMS=cpu`; the plugin's start-up fails without a GPU otherwise). jaxlib 0.10.2's proto
has no `collective_memory_granularity`, so that line is dropped. TPU targets are libtpu's named
topologies; one chip is one device of a 2×2 slice. Their memory and peaks are `specs/tpu.json`.
"""

import dataclasses
import functools
import json
import os
import re

from jax.experimental import topologies

_SPECS = os.path.join(os.path.dirname(__file__), 'specs')
_UNKNOWN_TO_JAXLIB = ('collective_memory_granularity',)
# JAX preallocates this share of a GPU's memory for its allocator (XLA_PYTHON_CLIENT_MEM_FRACTION's
# default); on a TPU the allocator has the whole HBM.
GPU_MEMORY_FRACTION = 0.75
INSTALL = 'pip install -r requirements-accelerators.txt'


class Unavailable(Exception):
  """A target that cannot be compiled for here (its plugin is missing): one line saying why."""


@dataclasses.dataclass(frozen=True)
class Target:
  name: str
  platform: str  # 'cuda' or 'tpu'
  memory_bytes: int  # Per chip.
  usable_bytes: int  # What JAX's allocator may hold of it.
  peak_flops: float | None = None  # Dense bf16 FLOP/s per chip (TPUs: the roofline).
  bandwidth: float | None = None  # HBM bytes/s per chip.
  spec: str | None = None  # GPU: the target config's text.
  topology: str | None = None  # TPU: the slice whose chips are used.

  def devices(self, count: int):
    """`count` devices of this target (1 or 8 GPUs, 1 or 4 TPU chips)."""
    if self.platform == 'cuda':
      return _gpu_topology(self.spec, count)
    devices = _tpu_topology(self.topology)
    if count > len(devices):
      raise Unavailable(f'{self.name}: the {self.topology} slice has {len(devices)} chips, '
                        f'not {count}')
    return devices[:count]


def _gpu_spec(file_name):
  with open(os.path.join(_SPECS, file_name)) as f:
    lines = f.read().splitlines()
  return '\n'.join(line for line in lines
                   if not any(field in line for field in _UNKNOWN_TO_JAXLIB))


def _gpu_target(name, file_name):
  spec = _gpu_spec(file_name)
  memory = int(re.search(r'device_memory_size: (\d+)', spec).group(1))
  bandwidth = float(re.search(r'memory_bandwidth: (\d+)', spec).group(1))
  return Target(name, 'cuda', memory, int(GPU_MEMORY_FRACTION * memory), bandwidth=bandwidth,
                spec=spec)


def _tpu_targets():
  with open(os.path.join(_SPECS, 'tpu.json')) as f:
    chips = json.load(f)
  return {name: Target(name, 'tpu', chip['hbm_bytes'], chip['hbm_bytes'],
                       chip['peak_bf16_flops'], chip['hbm_bytes_per_s'],
                       topology=chip['topology'])
          for name, chip in chips.items() if not name.startswith('_')}


TARGETS = {'h100': _gpu_target('h100', 'h100_sxm.txtpb'),
           'h200': _gpu_target('h200', 'h200.txtpb'), **_tpu_targets()}


@functools.lru_cache(maxsize=None)
def _gpu_topology(spec, count):
  try:
    topology = topologies.get_topology_desc(platform='cuda', target_config=spec,
                                            topology=f'1x1x{count}')
  except Exception as e:  # The plugin's absence surfaces as several exception types.
    raise Unavailable(f'no CUDA compiler here ({_first_line(e)}): {INSTALL}') from None
  return tuple(topology.devices)


@functools.lru_cache(maxsize=None)
def _tpu_topology(name):
  try:
    topology = topologies.get_topology_desc(topology_name=name, platform='tpu')
  except Exception as e:  # As above, for libtpu.
    raise Unavailable(f'no TPU compiler here ({_first_line(e)}): {INSTALL}') from None
  return tuple(topology.devices)


def _first_line(error):
  text = str(error).strip()
  return text.splitlines()[0][:120] if text else type(error).__name__
