"""Training throughput on this backend: one JSON line per case, then a table.

  python -m experiments.benchmark
  python -m experiments.benchmark --cases=conv_vae,conv_vae_scan --repeats=10
  python -m experiments.benchmark --glibc_heap   # glibc keeps freed memory (see below)
  python -m experiments.benchmark --cases=conv_vae_scan --conv_impls=matmul,xla  # both layer forms

Cases:
  peak_matmul    float32 FLOP/s of a large jitted jnp.dot (the best of --peak_sizes): the limit.
  mlp_vae        the MLP VAE step (784-500-20, batch 128, Bernoulli) via `vae.training.train.train_step`.
  mlp_vae_scan   the same, --scan_steps steps fused in one call by `vae.training.train.train_steps`.
  conv_vae       the default conv β-VAE step (experiments/configs/default.py, procedural dSprites).
  conv_vae_scan  the same fused by `vae.training.train.train_steps`, each batch rendered inside the scan.
  renderer       the jitted procedural dSprites `sample`, batches of 64 and 1024, and how many
                 times the conv step's consumption of images it renders.
  sweep          --sweep_models conv models, stacked and `jax.vmap`ped through
                 `train.train_steps` as the β sweep runs them, against the same models one after
                 the other; steps_per_s counts model-steps.
  sharded_sweep  the same models through the run loop's compiled chunk (`loop.chunk_program`)
                 on every device (the `auto` mesh of `vae.training.parallel`) against one device;
                 model-steps/s of each and their ratio. Simulate devices on a CPU with
                 JAX_NUM_CPU_DEVICES=N (there it measures the sharding's overhead only).
  encoder        the conv encoder on 64×64 dSprites as the disentanglement suite drives it:
                 --encoder_points observations drawn, rendered and encoded (mean and sampled
                 codes, one pass) in one program; images/s and FLOPs are the forward pass's.
                 `beta_vae_images_per_s`: the same through the BetaVAE score's pair batches.
  suite          `suite.evaluate_state` on one conv model (the default config, trained for
                 --suite_train_steps fused steps from its initialisation) at the default
                 disentanglement sizes × --suite_scale; wall seconds and each metric's share.

Conv cases (conv_vae, conv_vae_scan, sweep, encoder) run once per --conv_impls entry
(`--config.conv_impl`: auto, matmul, xla), named `case/impl` unless it is auto; each JSON line
records the form `auto` resolved to. The form is the backend's choice: re-measure it on a device.

Timing: each case runs --repeats timed windows after a warm-up and keeps the fastest, so that
other processes on a shared machine disturb the figures as little as possible. Every window also
records the process's CPU time (all threads): `fraction_of_peak_cpu` compares FLOPs per
CPU-second with the matmul's, which stays meaningful when other processes take cores away.
--glibc_heap measures a process setting: XLA:CPU allocates its temp buffer (114 MB for the conv
step) per call, which glibc otherwise maps afresh and the kernel page-faults in every step.

FLOPs: `model_flops_per_step` counts the layers' multiply-adds by hand (×2; the forward pass,
the input and the weight gradients, less the image gradient nobody needs), and both fractions of
peak use it. `xla_flops_per_step` is XLA's cost analysis of the compiled step, printed beside it:
it also counts elementwise work and the zero-padding rows that `vae.layers` multiplies.
"""

import ctypes
import functools
import json
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from experiments import cli
from experiments.configs import default as default_config
from experiments.configs import mlp as mlp_config
from vae import data
from vae import layers
from vae.data import dsprites
from vae.evaluation import beta_vae_score
from vae.evaluation import sampled_scores
from vae.evaluation import suite
from vae.training import loop
from vae.training import parallel
from vae.training import train

_ALL_CASES = ('peak_matmul', 'mlp_vae', 'mlp_vae_scan', 'conv_vae', 'conv_vae_scan', 'renderer',
              'sweep', 'sharded_sweep', 'encoder', 'suite')
_DEFAULT_CASES = _ALL_CASES[:-1]  # The suite case runs for minutes: only when asked for.
_CASES = flags.DEFINE_list('cases', list(_DEFAULT_CASES),
                           f'Cases to run, in order; peak_matmul always runs. Any of {_ALL_CASES}.')
_REPEATS = flags.DEFINE_integer('repeats', 7, 'Timed windows per case; the fastest is kept.')
_WINDOW_STEPS = flags.DEFINE_integer('window_steps', 5,
                                     'Single steps (or matmuls, or renders) per timed window.')
_SCAN_STEPS = flags.DEFINE_integer('scan_steps', 10, 'Steps fused into one train_steps call.')
_SWEEP_MODELS = flags.DEFINE_integer('sweep_models', 8, 'Models vmapped together in `sweep`.')
_SWEEP_STEPS = flags.DEFINE_integer('sweep_steps', 5, 'Steps per train_steps call in `sweep`.')
_SWEEP_REPEATS = flags.DEFINE_integer('sweep_repeats', 3, 'Timed windows of `sweep` (long ones).')
_GLIBC_HEAP = flags.DEFINE_bool(
    'glibc_heap', False, 'Before JAX starts, make glibc keep freed memory (one arena, no mmap, no '
    'trim), so that the temp buffer XLA:CPU allocates per call is not page-faulted in again '
    'every step (notes/performance.md).')
_ENCODER_POINTS = flags.DEFINE_integer('encoder_points', 8192,
                                       'Observations encoded per timed window of `encoder`.')
_SUITE_SCALE = flags.DEFINE_float(
    'suite_scale', 1.0, 'Multiplies every sample size of the default disentanglement config in '
    '`suite` (1: the published sizes; e.g. 0.05 for a quick run). The batch size stays 64.')
_SUITE_TRAIN_STEPS = flags.DEFINE_integer(
    'suite_train_steps', 300, 'Fused training steps of the model `suite` scores (0: scored at '
    'its initialisation, where most codes have collapsed).')
_CONV_IMPLS = flags.DEFINE_list(
    'conv_impls', ['auto'], 'Conv layer forms (--config.conv_impl: auto, matmul, xla) each conv case '
    'runs with, one after the other in this process. On XLA:CPU xla inside a scan is 10-50× '
    'slower: lower --scan_steps and --repeats for it.')
_PEAK_SIZES = flags.DEFINE_list('peak_sizes', ['512', '1024', '2048'],
                                'Square matmul sizes tried for the peak; the fastest is the peak.')

_MLP_SHAPE = (28, 28, 1)


def keep_freed_memory():
  """glibc: one malloc arena, no mmap-backed chunks, no trimming; freed memory is reused."""
  libc = ctypes.CDLL('libc.so.6')
  m_trim_threshold, m_mmap_max, m_arena_max = -1, -4, -8  # From glibc's malloc.h.
  for option, value in ((m_arena_max, 1), (m_mmap_max, 0), (m_trim_threshold, 2**31 - 1)):
    if not libc.mallopt(option, value):
      raise OSError(f'mallopt({option}, {value}) failed')


def best_seconds(run, repeats):
  """(wall, CPU) seconds of the fastest of `repeats` calls of `run()`, which must block."""
  run()  # Warm-up: the first call may still allocate or page in.
  walls, cpus = [], []
  for _ in range(repeats):
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
  return min(walls), min(cpus)


def layer_macs(params, side, parts=('encoder', 'decoder')):
  """Forward multiply-adds per example of every kernel, from its shape and the image side."""
  macs = []
  for part in parts:
    for name, layer in params[part].items():
      kernel, index = layer['kernel'], int(name.rsplit('_', 1)[1])
      if kernel.ndim == 2:
        positions = 1
      elif part == 'encoder':  # Conv_i writes (side / 2^(i+1))² positions.
        positions = (side // 2**(index + 1))**2
      else:  # ConvTranspose_i reads (side / 16 · 2^i)² positions.
        positions = (side // 16 * 2**index)**2
      macs.append(positions * kernel.size)
  return macs


def model_flops(params, side, batch):
  """Training FLOPs of one step: forward, input and weight gradients, no image gradient."""
  macs = layer_macs(params, side)
  return 2 * batch * (3 * sum(macs) - macs[0])


def _xla_flops(compiled):
  analysis = compiled.cost_analysis()
  return float((analysis[0] if isinstance(analysis, list) else analysis)['flops'])


def _timed_compile(jitted, *args):
  start = time.perf_counter()
  compiled = jitted.lower(*args).compile()
  return compiled, time.perf_counter() - start


def _random_binary(key, n):
  """MNIST-shaped binary images: the MLP step's cost does not depend on their content."""
  return jax.random.bernoulli(key, 0.5, (n, *_MLP_SHAPE)).astype(jnp.float32)


def _mlp_config():
  config = mlp_config.get_config()
  config.latents = 20  # 784-500-20, as in the flax VAE example.
  return config


# Each workload: (config, observation shape, in-graph batch sampler).
_WORKLOADS = {
    'mlp_vae': (_mlp_config, _MLP_SHAPE, _random_binary),
    'conv_vae': (default_config.get_config, dsprites.IMAGE_SHAPE, dsprites.sample),
}


def _conv_config(get_config, impl):
  config = get_config()
  config.conv_impl = impl
  return config


def _named(name, impl, result):
  """`result` named `name/impl` (plain `name` for auto), with the form the model resolved."""
  result.update(case=name if impl == 'auto' else f'{name}/{impl}',
                conv_impl=layers.resolve_impl(impl))
  return result


def _state(config, shape, seed=0):
  model = train.create_model(config, shape)
  return train.create_train_state(jax.random.key(seed), config, model, shape)


def _throughput(name, batch, model_steps, seconds, flops, xla_flops, compile_s, peak):
  """The JSON fields of a training case timed at `seconds` (wall, CPU) for `model_steps`."""
  (wall, cpu), total = seconds, flops * model_steps
  return {'case': name, 'steps_per_s': model_steps / wall,
          'images_per_s': batch * model_steps / wall,
          'model_flops_per_step': flops, 'xla_flops_per_step': xla_flops,
          'flops_per_s': total / wall, 'fraction_of_peak': total / wall / peak['flops_per_s'],
          'fraction_of_peak_cpu': total / cpu / peak['flops_per_cpu_s'], 'compile_s': compile_s}


def step_case(name, peak, impl='auto'):
  """`train.train_step` on pre-drawn batches (drawing them is the renderer case)."""
  get_config, shape, sample_batch = _WORKLOADS[name]
  config = _conv_config(get_config, impl)
  state = _state(config, shape)
  keys = jax.random.split(jax.random.key(1), _WINDOW_STEPS.value)
  batches = [sample_batch(k, config.batch_size) for k in keys]
  noise_key = jax.random.key(2)
  compiled, compile_s = _timed_compile(train.train_step, state, batches[0], noise_key)
  holder = [state]  # The step donates its state: always pass on the newest.

  def run():
    for batch in batches:
      holder[0], _ = train.train_step(holder[0], batch, noise_key)
    jax.block_until_ready(holder[0])

  seconds = best_seconds(run, _REPEATS.value)
  return _throughput(name, config.batch_size, len(batches), seconds,
                     model_flops(state.params, shape[0], config.batch_size),
                     _xla_flops(compiled), compile_s, peak)


_fused_steps = jax.jit(train.train_steps, static_argnums=(2, 3, 4), donate_argnums=0)


def scan_case(name, peak, impl='auto'):
  """`train.train_steps`: --scan_steps steps and the drawing of their batches in one call."""
  get_config, shape, sample_batch = _WORKLOADS[name.removesuffix('_scan')]
  config = _conv_config(get_config, impl)
  state = _state(config, shape)
  args = (jax.random.key(1), sample_batch, config.batch_size, _SCAN_STEPS.value)
  compiled, compile_s = _timed_compile(_fused_steps, state, *args)
  holder = [state]

  def run():
    holder[0] = jax.block_until_ready(_fused_steps(holder[0], *args)[0])

  seconds = best_seconds(run, _REPEATS.value)
  # XLA's analysis counts a loop body once: its figure is per step already.
  return _throughput(name, config.batch_size, _SCAN_STEPS.value, seconds,
                     model_flops(state.params, shape[0], config.batch_size),
                     _xla_flops(compiled), compile_s, peak)


def sweep_case(peak, impl='auto'):
  """K conv models vmapped through `train.train_steps` (as the sweep runs them) vs one by one."""
  config = _conv_config(default_config.get_config, impl)
  shape, num_models, num_steps = dsprites.IMAGE_SHAPE, _SWEEP_MODELS.value, _SWEEP_STEPS.value
  states = [train.set_strength(_state(config, shape, seed), 2.0**seed) for seed in range(num_models)]
  keys = list(jax.random.split(jax.random.key(1), num_models))
  group = jax.jit(jax.vmap(functools.partial(
      train.train_steps, sample_batch=dsprites.sample, batch_size=config.batch_size,
      num_steps=num_steps)), donate_argnums=0)
  stacked = [jax.tree.map(lambda *xs: jnp.stack(xs), *states)]
  compiled, compile_s = _timed_compile(group, stacked[0], jnp.stack(keys))
  args = (dsprites.sample, config.batch_size, num_steps)

  def run_vmapped():
    stacked[0] = jax.block_until_ready(group(stacked[0], jnp.stack(keys))[0])

  def run_one_by_one():
    states[:] = [_fused_steps(s, k, *args)[0] for s, k in zip(states, keys)]
    jax.block_until_ready(states)

  flops = model_flops(states[0].params, shape[0], config.batch_size)
  result = _throughput('sweep', config.batch_size, num_models * num_steps,
                       best_seconds(run_vmapped, _SWEEP_REPEATS.value), flops,
                       _xla_flops(compiled) / num_models, compile_s, peak)
  one_by_one = best_seconds(run_one_by_one, _SWEEP_REPEATS.value)[0]
  result.update(models=num_models, one_by_one_steps_per_s=num_models * num_steps / one_by_one,
                vmap_speedup=result['steps_per_s'] * one_by_one / (num_models * num_steps))
  return result


def sharded_sweep_case(peak, impl='auto'):
  """--sweep_models conv models through the loop's compiled chunk: every device vs one."""
  config = _conv_config(default_config.get_config, impl)
  dataset = data.get_dataset('procedural_dsprites')
  num_models, num_steps = _SWEEP_MODELS.value, _SWEEP_STEPS.value
  flops = model_flops(_state(config, dataset.observation_shape).params,
                      dataset.observation_shape[0], config.batch_size)
  result = {}
  for name, devices in (('one_device', jax.devices()[:1]), ('mesh', jax.devices())):
    layout = parallel.layout(config, num_models, devices)  # Inert slots pad an uneven mesh.
    states = [layout.place(jax.tree.map(lambda *xs: jnp.stack(xs), *[
        _state(config, dataset.observation_shape, seed) for seed in range(layout.width)]))]
    keys = layout.place(jax.random.split(jax.random.key(1), layout.width))
    start = time.perf_counter()
    program = loop.chunk_program(layout, states[0], keys, dataset, config.batch_size,
                                     num_steps)

    def run(program=program, keys=keys, states=states):
      states[0] = jax.block_until_ready(program(states[0], keys)[0])

    result[name] = _throughput('sharded_sweep', config.batch_size, num_models * num_steps,
                               best_seconds(run, _SWEEP_REPEATS.value), flops,
                               # The program is one device's: its own models' FLOPs.
                               _xla_flops(program) * layout.mesh.shape[parallel.MODELS] /
                               layout.width, time.perf_counter() - start,
                               peak)
    result[name]['mesh_shape'] = dict(layout.mesh.shape)
  result['mesh'].update(models=num_models, devices=len(jax.devices()),
                        one_device_steps_per_s=result['one_device']['steps_per_s'],
                        speedup=result['mesh']['steps_per_s'] /
                        result['one_device']['steps_per_s'])
  return result['mesh']


def peak_matmul():
  by_size = {}
  for size in map(int, _PEAK_SIZES.value):
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
    dot = jax.jit(jnp.dot)

    def run(a=a, b=b, dot=dot):
      jax.block_until_ready([dot(a, b) for _ in range(_WINDOW_STEPS.value)])

    wall, cpu = best_seconds(run, _REPEATS.value)
    flops = 2 * size**3 * _WINDOW_STEPS.value
    by_size[size] = (flops / wall, flops / cpu)
  size = max(by_size, key=lambda s: by_size[s][0])
  return {'case': 'peak_matmul', 'size': size, 'flops_per_s': by_size[size][0],
          'flops_per_cpu_s': by_size[size][1], 'fraction_of_peak': 1.0,
          'flops_per_s_by_size': {s: f for s, (f, _) in by_size.items()}}


def renderer(results):
  """Images/s of the jitted renderer, and its ratio to the fastest conv case's consumption."""
  out = {'case': 'renderer'}
  for batch in (64, 1024):
    keys = jax.random.split(jax.random.key(3), _WINDOW_STEPS.value)
    wall, _ = best_seconds(
        lambda b=batch: jax.block_until_ready([dsprites.sample(k, b) for k in keys]),
        _REPEATS.value)
    out[f'images_per_s_{batch}'] = batch * len(keys) / wall
  out['images_per_s'] = out['images_per_s_64']  # The batch size the training loop renders.
  conv = [r['images_per_s'] for r in results if r['case'].startswith('conv_vae')]
  if conv:
    out['conv_images_per_s'] = max(conv)
    for batch in (64, 1024):
      out[f'ratio_to_conv_step_{batch}'] = out[f'images_per_s_{batch}'] / max(conv)
  return out


def encoder_flops(params, side):
  """Forward FLOPs of the encoder per image (the suite needs no gradient)."""
  return 2 * sum(layer_macs(params, side, parts=('encoder',)))


def encoder_case(peak, impl='auto'):
  """The suite's in-graph encoder pass: images/s and fraction of peak of the conv encoder."""
  config = _conv_config(default_config.get_config, impl)
  state = _state(config, dsprites.IMAGE_SHAPE)
  data, encoder = dsprites.dataset(), suite.encoder(state, suite.REPRESENTATIONS)
  points, keys = _ENCODER_POINTS.value, (jax.random.key(1), jax.random.key(2))
  batch = config.disentanglement.sampled_batch_size
  pairs = max(1, points // (2 * batch))  # BetaVAE points: 2·batch observations each.
  per_step = config.disentanglement.encode_batch_size  # What the suite passes.
  codes = functools.partial(sampled_scores.codes_and_factors, data, encoder, *keys, points,
                            per_step)
  beta = functools.partial(sampled_scores._points, data, encoder, *keys, batch, pairs, 2,
                           beta_vae_score._pair_distance, per_step)
  start = time.perf_counter()
  codes(), beta()
  compile_s = time.perf_counter() - start  # The first calls compile (and run once).
  wall, cpu = best_seconds(codes, _REPEATS.value)
  beta_wall, _ = best_seconds(beta, _REPEATS.value)
  flops = encoder_flops(state.params, dsprites.IMAGE_SHAPE[0])
  return {'case': 'encoder', 'images_per_s': points / wall, 'model_flops_per_image': flops,
          'flops_per_s': flops * points / wall,
          'fraction_of_peak': flops * points / wall / peak['flops_per_s'],
          'fraction_of_peak_cpu': flops * points / cpu / peak['flops_per_cpu_s'],
          'beta_vae_images_per_s': 2 * batch * pairs / beta_wall,
          'beta_vae_fraction_of_peak': flops * 2 * batch * pairs / beta_wall / peak['flops_per_s'],
          'observations_per_step': per_step, 'compile_s': compile_s}


def _scaled_sizes(scale):
  """The default disentanglement sizes × `scale` (at least one point each; batch unchanged)."""
  names = ('num_train', 'num_test', 'sampled_num_train', 'sampled_num_eval',
           'num_variance_estimate', 'fairness_num_train', 'fairness_num_test_points_per_class',
           'downstream_num_test', 'strong_downstream_num_train', 'strong_downstream_num_test')
  defaults = default_config.disentanglement_config()
  # The downstream sizes stay increasing and at least the logistic regression's 5 folds.
  downstream = ','.join(str(max(5 + i, round(int(n) * scale)))
                        for i, n in enumerate(defaults.downstream_num_train.split(',')))
  return default_config.disentanglement_config(
      sampled_batch_size=defaults.sampled_batch_size, downstream_num_train=downstream,
      strong_downstream_num_experiments=defaults.strong_downstream_num_experiments,
      **{name: max(2, round(defaults[name] * scale)) for name in names})


def suite_case():
  """`suite.evaluate_state` on one conv model: wall seconds, and seconds and share per metric."""
  config = default_config.get_config()
  state = _state(config, dsprites.IMAGE_SHAPE)
  if _SUITE_TRAIN_STEPS.value:
    state = jax.block_until_ready(_fused_steps(
        state, jax.random.key(1), dsprites.sample, config.batch_size, _SUITE_TRAIN_STEPS.value)[0])
  sizes = _scaled_sizes(_SUITE_SCALE.value)
  cpu = time.process_time()
  results = suite.evaluate_state(state, dsprites.dataset(), jax.random.key(2), sizes)
  stages = results['stage_seconds']
  return {'case': 'suite', 'seconds': results['seconds'], 'cpu_s': time.process_time() - cpu,
          'train_steps': _SUITE_TRAIN_STEPS.value, 'sizes': sizes.to_dict(),
          'grid_tabulated': results['grid_tabulated'],
          'stage_seconds': stages,
          'stage_share': {name: t / results['seconds'] for name, t in stages.items()},
          'scores': {name: results[name] for name in suite.REPRESENTATIONS if name in results}}


def _suite_table(result):
  rows = [('metric', 'seconds', 'share')] + [
      (name, f'{t:.1f}', f"{result['stage_share'][name]:.0%}")
      for name, t in sorted(result['stage_seconds'].items(), key=lambda item: -item[1])]
  rows.append(('total', f"{result['seconds']:.1f}", '100%'))
  widths = [max(len(row[i]) for row in rows) for i in range(3)]
  return '\n'.join('  '.join(c.rjust(w) for c, w in zip(row, widths)) for row in rows)


def _table(results):
  header = ('case', 'steps/s', 'images/s', 'GFLOP/step', 'XLA GFLOP/step', 'GFLOP/s',
            'of peak', 'of peak (CPU s)', 'compile s')
  rows = [header]
  for r in results:
    cells = [r.get('steps_per_s'), r.get('images_per_s'),
             r.get('model_flops_per_step', r.get('model_flops_per_image', 0)) / 1e9 or None,
             r.get('xla_flops_per_step', 0) / 1e9 or None, r.get('flops_per_s', 0) / 1e9 or None]
    cells = [r['case']] + ['' if c is None else f'{c:.3g}' for c in cells] + [
        f"{r[k]:.0%}" if k in r else '' for k in ('fraction_of_peak', 'fraction_of_peak_cpu')
    ] + [f"{r['compile_s']:.1f}" if 'compile_s' in r else '']
    rows.append(cells)
  widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
  return '\n'.join('  '.join(c.rjust(w) for c, w in zip(row, widths)) for row in rows)


def main(argv):
  del argv  # experiments.cli refuses positional arguments.
  unknown = sorted(set(_CASES.value) - set(_ALL_CASES))
  if unknown:
    raise app.UsageError(f'unknown --cases {unknown}; allowed: {", ".join(_ALL_CASES)}')
  unknown = sorted(set(_CONV_IMPLS.value) - set(layers.CONV_IMPLS))
  if unknown:
    raise app.UsageError(f'unknown --conv_impls {unknown}; allowed: {", ".join(layers.CONV_IMPLS)}')
  if _GLIBC_HEAP.value:
    keep_freed_memory()  # Before the first computation starts XLA's worker threads.
  peak = peak_matmul()
  results = [peak]
  print(json.dumps(peak), flush=True)
  for name in _CASES.value:
    if name == 'peak_matmul':
      continue
    if name == 'renderer':
      runs = [renderer(results)]
    elif name == 'suite':
      runs = [suite_case()]
    elif name.startswith('mlp'):
      runs = [(scan_case if name.endswith('_scan') else step_case)(name, peak)]
    else:
      case = {'sweep': sweep_case, 'sharded_sweep': sharded_sweep_case,
              'encoder': encoder_case}.get(name)
      case = case or functools.partial(scan_case if name.endswith('_scan') else step_case, name)
      runs = (_named(name, impl, case(peak, impl=impl)) for impl in _CONV_IMPLS.value)
    for result in runs:
      results.append(result)
      print(json.dumps(result), flush=True)
  print(_table(results))
  for result in results:
    if result['case'] == 'suite':
      print(_suite_table(result))


if __name__ == '__main__':
  cli.main(main)
