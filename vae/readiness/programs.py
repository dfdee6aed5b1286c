"""The programs a researcher runs, compiled ahead of time for any devices (deviceless ones
included), and what their compiled form says: per-device memory, collectives, cost.

Training is the loop's own first chunk of a group (`loop.group_program`), so what is checked is
what runs. A model's final evaluation and the suite compile one model at a time, on one device:
the eval step (the encoder and decoder on `eval_batch_size` images), log p(x)'s importance
samples on one batch, and the suite's encoding of one chunk of the factor grid.
"""

import math
import time

import jax
import numpy as np

from vae.evaluation import marginal_likelihood
from vae.evaluation import model_evaluation
from vae.evaluation import sampled_scores
from vae.evaluation import suite
from vae.readiness import collectives
from vae.training import loop
from vae.training import memory
from vae.training import parallel
from vae.training import train

GIB = 2**30


def _placed(tree, sharding):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def _images(dataset, count, sharding):
  return jax.ShapeDtypeStruct((count, *dataset.observation_shape), np.float32, sharding=sharding)


def evaluation_rows(config, dataset, model, device) -> dict:
  """{name: measured row} of one model's evaluation programs on `device`."""
  one = jax.sharding.SingleDeviceSharding(device)
  state = _placed(jax.eval_shape(lambda k: train.create_train_state(
      k, config, model, dataset.observation_shape, dataset.num_examples), jax.random.key(0)), one)
  key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype, sharding=one)
  batch = _images(dataset, config.eval_batch_size, one)
  lowerings = {'eval_step': lambda: model_evaluation.eval_step.lower(state, batch, key)}
  if state.method.variational:  # log p(x) and the suite need q(z|x).
    encoder = suite.encoder(state, suite.REPRESENTATIONS)
    posterior = marginal_likelihood.batch_posterior.eval_shape(model, state.params, batch)
    lowerings['log_px'] = lambda: marginal_likelihood.batch_log_px_chunk.lower(
        model, state.params, batch, _placed(posterior, one), key,
        jax.ShapeDtypeStruct((), np.int32, sharding=one),
        jax.ShapeDtypeStruct((config.eval_batch_size,), np.float32, sharding=one),
        num_samples=config.num_importance_samples, chunk_size=config.importance_chunk_size)
    lowerings['grid_encoding'] = lambda: sampled_scores.encode_chunk.lower(
        encoder.functions, encoder.params,
        _images(dataset, sampled_scores.OBSERVATIONS_PER_CALL, one), key)
  rows = {}
  for name, lower in lowerings.items():
    start = time.perf_counter()
    compiled = lower().compile()
    rows[name] = {'compile_s': time.perf_counter() - start, 'mesh': (1, 1),
                  'models_per_device': 1, **measure(compiled)}
  return rows


def measure(compiled, mesh_shape=(1, 1)) -> dict:
  """What one compiled program needs and does, per device."""
  analysis = compiled.memory_analysis()
  hlo = compiled.as_text()
  cost = compiled.cost_analysis()
  cost = (cost[0] if isinstance(cost, list) else cost) or {}
  return {'argument_gib': analysis.argument_size_in_bytes / GIB,
          'output_gib': analysis.output_size_in_bytes / GIB,
          'temp_gib': analysis.temp_size_in_bytes / GIB,
          'alias_gib': analysis.alias_size_in_bytes / GIB,
          'bytes': memory.program_bytes(compiled),
          'collectives': collectives.counts(hlo),
          'across_models': collectives.across_models(hlo, mesh_shape),
          'flops': cost.get('flops'), 'bytes_accessed': cost.get('bytes accessed')}


def training_row(config, dataset, model, width, devices) -> dict:
  """The compiled first chunk of `width` models on `devices`, measured, with its compile time;
  a program the compiler refuses for the device's memory is a row that says so."""
  layout = parallel.layout(config, width, devices)
  mesh_shape = (layout.mesh.shape[parallel.MODELS], layout.mesh.shape[parallel.DATA])
  row = {'mesh': mesh_shape, 'steps': loop.first_chunk_steps(config), 'slots': layout.width,
         'models_per_device': layout.width // mesh_shape[0]}
  start = time.perf_counter()
  try:
    program, _ = loop.group_program(config, dataset, model, width, devices)
  except memory.RefusedByCompiler as e:
    return {**row, 'compile_s': time.perf_counter() - start, 'bytes': math.inf,
            'refused': str(e), 'collectives': {}, 'across_models': {}}
  measured = measure(program, mesh_shape)
  # What the loop holds beside the program, as `loop.group_bytes` counts it.
  measured['bytes'] += loop.eval_bytes(config, dataset, width)
  return {**row, 'compile_s': time.perf_counter() - start, **measured}


def roofline_seconds(row, target) -> float | None:
  """The least time one model-step can take on `target`: the larger of XLA's FLOPs over the
  chip's peak and its bytes accessed over the HBM bandwidth, shared by the device's models.

  XLA's cost analysis counts a loop's body once, so a fused chunk's figures are one step's. TPUs
  run float32 matrix products at JAX's default precision as bf16 passes: the bf16 peak bounds.
  """
  if not (row.get('flops') and target.peak_flops and target.bandwidth):
    return None
  bound = max(row['flops'] / target.peak_flops, row['bytes_accessed'] / target.bandwidth)
  return bound / row['models_per_device']


def assess(row, target, program, models, devices) -> dict:
  """`row` with where it ran, whether it fits the chip, its roofline, and what is wrong with it."""
  fits = row['bytes'] <= target.usable_bytes
  problems = [f'{target.name}×{devices} {program} at {models} models: {n} {kind} across models'
              for kind, n in row['across_models'].items()]
  if 'refused' in row:
    problems.append(f'{target.name}×{devices} {program} at {models} models: {row["refused"]}')
  elif not fits:
    problems.append(f'{target.name}×{devices} {program} at {models} models needs '
                    f'{row["bytes"] / GIB:.1f} GiB per device of {target.usable_bytes / GIB:.1f}')
  roofline = roofline_seconds(row, target)
  return {**row, 'target': target.name, 'devices': devices, 'program': program,
          'models': models, 'fits': fits, 'problems': problems,
          'roofline_us': None if roofline is None else roofline * 1e6}


def most_models(config, dataset, model, devices, target) -> int:
  """The most models one device of `target` trains at once: `models_per_step=auto`'s choice."""
  # An upper bound for the bisection: no model needs less than its own state.
  one = memory.tree_bytes(train.abstract_group(config, model, dataset.observation_shape, 1,
                                               dataset.num_examples)[0])
  return loop.largest_group(config, dataset, model, target.usable_bytes // one, devices,
                            target.usable_bytes)
