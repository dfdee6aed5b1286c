"""The collectives of a compiled program, read from its HLO text: how many of each kind, how many
elements each all-reduce carries, and whether any crosses the `models` axis of its mesh.

A program compiled for a mesh of shape (M, D) numbers its devices 0 … M·D − 1 in the mesh's
row-major order (the device assignment of `jax.jit` over `Mesh(devices.reshape(M, D))`), so
device i sits in `models` row i // D. A collective's `replica_groups` (with
`use_global_device_ids=true`, as SPMD programs write them) list those numbers, either explicitly,
`{{0,1},{2,3}}`, or as an iota: `[G,S]<=[dims]T(perm)` is arange(prod(dims)) reshaped to dims,
transposed by perm, reshaped to G groups of S. A collective-permute lists its
`source_target_pairs` instead. A group holding devices of two rows talks across `models`.
"""

import collections
import math
import re

import numpy as np

KINDS = ('all-gather', 'all-reduce', 'all-to-all', 'reduce-scatter', 'collective-permute')

# ` all-reduce(` or ` all-reduce-start(`: the op itself, not an instruction named after it.
_OP = re.compile(r' (' + '|'.join(KINDS) + r')(?:-start)?\(')
_ARRAY = re.compile(r'\b(?:pred|[fsu]\d+|bf16)\[([0-9,]*)\]')
_IOTA_GROUPS = re.compile(r'replica_groups=\[([0-9,]+)\]<=\[([0-9,]+)\](?:T\(([0-9,]+)\))?')
_LIST_GROUPS = re.compile(r'replica_groups=\{((?:\{[0-9,]*\},?)*)\}')
_PAIRS = re.compile(r'source_target_pairs=\{((?:\{[0-9,]*\},?)*)\}')


def _ints(text):
  return [int(v) for v in text.split(',') if v]


def _instructions(hlo: str):
  """(kind, line) of every collective op in `hlo`."""
  for line in hlo.splitlines():
    match = _OP.search(line)
    if match:
      yield match.group(1), line


def counts(hlo: str) -> dict[str, int]:
  """{kind: number of ops} for every collective kind present."""
  return dict(collections.Counter(kind for kind, _ in _instructions(hlo)))


def all_reduced_elements(hlo: str) -> int:
  """Elements summed by every all-reduce together (each op's result shapes, tuples included)."""
  total = 0
  for kind, line in _instructions(hlo):
    if kind == 'all-reduce':
      result = line.split(' all-reduce')[0].split('=', 1)[1]
      total += sum(math.prod(_ints(dims)) for dims in _ARRAY.findall(result))
  return total


def _groups(line):
  """The device groups of one collective op (lists of logical device ids); [] when none given."""
  iota = _IOTA_GROUPS.search(line)
  if iota:
    shape, dims, perm = _ints(iota.group(1)), _ints(iota.group(2)), iota.group(3)
    ids = np.arange(math.prod(dims)).reshape(dims)
    if perm:
      ids = ids.transpose(_ints(perm))
    return ids.reshape(shape).tolist()
  listed = _LIST_GROUPS.search(line) or _PAIRS.search(line)
  if listed:
    return [_ints(group) for group in re.findall(r'\{([0-9,]*)\}', listed.group(1))]
  return []


def across_models(hlo: str, mesh_shape: tuple[int, int]) -> dict[str, int]:
  """{kind: ops whose devices span two `models` rows} of a program on a (M, D) mesh.

  An op with no groups listed spans every device: across models whenever M > 1.
  """
  models, data = mesh_shape
  crossing = collections.Counter()
  for kind, line in _instructions(hlo):
    groups = _groups(line) or [list(range(models * data))]
    if any(len({device // data for device in group}) > 1 for group in groups):
      crossing[kind] += 1
  return dict(crossing)
