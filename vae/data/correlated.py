"""Training data with correlated factors (Roth et al., ICLR 2023, "Disentanglement of Correlated
Factors via Hausdorff Factorized Support"), for any source with a factor grid.

`--config.correlated_factors` couples pairs of factors in the training draws only: a factor tuple
c is drawn with probability proportional to

  w(c) = prod over the pairs (a, b, σ) of exp(−(v_a − v_b)² / (2σ²)),  v = index / (size − 1),

each factor's value scaled to [0, 1] over its grid, as the authors' `provide_correlation_sampler`
weighs every element of the dataset (the 'traeuble' distribution); a smaller σ couples the pair
more tightly. The evaluation (eval images, the disentanglement suite) keeps the uniform factors,
as the authors' test loader does. Factors in no pair stay uniform and independent, so only the
joint table of the coupled factors is built (dSprites' largest, every factor coupled to one:
737,280 cells), and a draw is one inverse-CDF lookup per tuple, inside the jitted step.

The setting is a preset name of the authors' dSprites benchmark (`PRESETS`) or pairs written
`a:b:σ` separated by commas (e.g. `shape:scale:0.1,pos_x:pos_y:0.1`); `a:*:σ` couples `a` with
every other factor (their 'confounder' setups). Empty: uncorrelated.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from vae.data import ground_truth
from vae.data.ground_truth import GroundTruthDataset
from vae.errors import UserInputError

_SETTING = '--config.correlated_factors'

# The authors' dSprites setups (constraints/avail_correlations.yaml, correlation_benchmark grid):
# name -> pairs (a, b, σ); '*' couples a factor with every other one.
PRESETS = {
    'single_1_01': (('shape', 'scale', 0.1),),
    'single_2_01': (('pos_x', 'pos_y', 0.1),),
    'single_3_01': (('shape', 'pos_y', 0.1),),
    **{f'double_1_{tag}': (('shape', 'pos_x', sigma), ('scale', 'pos_y', sigma))
       for tag, sigma in (('04', 0.4), ('01', 0.1), ('004', 0.04))},
    **{f'double_2_{tag}': (('shape', 'scale', sigma), ('pos_x', 'pos_y', sigma))
       for tag, sigma in (('04', 0.4), ('01', 0.1), ('004', 0.04))},
    'conf_1_02': (('shape', '*', 0.2),),
    'conf_2_02': (('pos_x', '*', 0.2),),
}


def parse(spec: str, factor_names) -> tuple[tuple[int, int, float], ...]:
  """(factor index a, factor index b, σ) of each coupled pair of `spec` (see the module
  docstring); a one-line UserInputError naming the setting otherwise."""
  spec = (spec or '').strip()
  if not spec:
    return ()
  entries = PRESETS.get(spec)
  if entries is None:
    entries = []
    for part in spec.split(','):
      fields = part.strip().split(':')
      sigma = _sigma(fields[2]) if len(fields) == 3 else None
      if sigma is None:
        raise UserInputError(
            f'{_SETTING}={spec!r}: expected a preset ({", ".join(PRESETS)}) or pairs '
            'FACTOR:FACTOR:SIGMA (SIGMA > 0; FACTOR:*:SIGMA for all others), comma-separated')
      entries.append((fields[0], fields[1], sigma))
  names = tuple(factor_names)
  pairs = []
  for a, b, sigma in entries:
    for name in (a, b):
      if name not in names and name != '*':
        raise UserInputError(f'{_SETTING}={spec!r}: no factor {name!r}; this source\'s factors: '
                             f'{", ".join(names)}')
    if a == b or a == '*':
      raise UserInputError(f'{_SETTING}={spec!r}: a pair couples two different factors')
    others = [n for n in names if n != a] if b == '*' else [b]
    pairs.extend((names.index(a), names.index(o), sigma) for o in others)
  return tuple(pairs)


def _sigma(text):
  try:
    value = float(text)
  except ValueError:
    return None
  return value if 0 < value < math.inf else None


def log_weights(factors, sizes, pairs):
  """log w of factor index tuples [..., F] (numpy): −Σ (v_a − v_b)² / (2σ²)."""
  values = np.asarray(factors, np.float64) / np.maximum(np.asarray(sizes, np.float64) - 1, 1)
  total = np.zeros(values.shape[:-1])
  for a, b, sigma in pairs:
    total -= np.square(values[..., a] - values[..., b]) / (2 * sigma ** 2)
  return total


def joint_table(sizes, pairs):
  """(the coupled factors' indices, their sizes, the CDF of their joint over its cells in
  row-major order): the distribution the training draws take them from."""
  coupled = tuple(sorted({f for a, b, _ in pairs for f in (a, b)}))
  coupled_sizes = tuple(sizes[f] for f in coupled)
  cells = np.stack(np.unravel_index(np.arange(math.prod(coupled_sizes)), coupled_sizes), axis=-1)
  grid = np.zeros((len(cells), len(sizes)), np.int64)
  grid[:, coupled] = cells
  log_w = log_weights(grid, sizes, pairs)
  probabilities = np.exp(log_w - log_w.max())
  cdf = np.cumsum(probabilities / probabilities.sum())
  return coupled, coupled_sizes, cdf


def _count_at_most(sorted_values, queries):
  """How many of `sorted_values` are <= each query (`searchsorted(..., side='right')`), by an
  unrolled binary search: jnp.searchsorted fails to trace inside the per-device program's
  shard_map (jax 0.10.2), and comparing against every cell costs n × cells."""
  size = sorted_values.shape[0]
  low = jnp.zeros(queries.shape, jnp.int32)
  high = jnp.full(queries.shape, size, jnp.int32)
  for _ in range(size.bit_length()):
    middle = (low + high) // 2
    right = sorted_values[jnp.minimum(middle, size - 1)] <= queries
    right = right & (middle < size)
    low, high = jnp.where(right, middle + 1, low), jnp.where(right, high, middle)
  return low


def sampler(sizes, pairs):
  """`(key, n) -> int32 [n, F]`: the coupled factors from their joint table, the others
  uniform (pure JAX)."""
  coupled, coupled_sizes, cdf = joint_table(sizes, pairs)
  cdf = jnp.asarray(cdf, jnp.float32)

  def sample_factors(key, n):
    cell_key, other_key = jax.random.split(key)
    uniform = ground_truth.uniform_factors(sizes, other_key, n)
    u = jax.random.uniform(cell_key, (n,), jnp.float32)
    cell = jnp.minimum(_count_at_most(cdf, u), cdf.shape[0] - 1)
    values = ground_truth.index_to_factors(cell, coupled_sizes)
    return uniform.at[:, jnp.asarray(coupled)].set(values)

  return sample_factors


def apply(dataset: GroundTruthDataset, spec: str) -> GroundTruthDataset:
  """`dataset` whose training draws (`sample_train`) couple the factors of `spec`."""
  pairs = parse(spec, dataset.factor_names)
  if not pairs:
    return dataset
  if not dataset.has_factor_grid:
    raise UserInputError(f'{_SETTING}={spec!r}: {dataset.name} has no factor grid to draw '
                         'correlated factors from; use a procedural source')
  return dataclasses.replace(dataset, train_factors=sampler(dataset.factor_sizes, pairs))
