"""The readiness table: every program a researcher runs, compiled for GPUs and TPUs without one.

  JAX_PLATFORMS=cpu .venv-accelerators/bin/python -m experiments.accelerators

(a venv with requirements.txt and requirements-accelerators.txt; JAX stays on the CPU, the CUDA
and TPU compilers target the chips). For each target (`--targets`, NAME:DEVICES) it compiles the
first fused training chunk of each workload (`--workloads`) at each width (`--widths` models,
spread over the devices as a sweep spreads them), and on one device the most models that fit
(bisection over compiled programs, `loop.largest_group`, with `models_per_step=auto`'s margin)
and one model's evaluation programs (the eval step, log p(x), the suite's grid encoding). Each
row: compile seconds, per-device argument / output / temp GiB, collectives by kind (those
crossing `models` marked), whether it fits the chip, and on TPUs XLA's FLOPs and bytes per step
and the roofline bound per model-step. `--check` exits 1 on a failed compile, a collective
across `models`, or a program that does not fit. A target whose compiler is not installed is one
line saying so. Memory is XLA's compile-time estimate: nothing is autotuned and nothing is timed.
"""

import json
import signal

from absl import flags
from absl import logging

from experiments import cli
from experiments.configs import default
from experiments.configs import reproduce_chen2018
from vae import files
from vae import layers
from vae import preemption
from vae import settings
from vae.errors import Interrupted
from vae.errors import UserInputError
from vae.readiness import programs
from vae.readiness import targets
from vae.training import loop
from vae.training import train

# Each workload: the config a researcher trains it with on an accelerator.
WORKLOADS = {
    'conv': lambda: default.get_config(),  # The conv β-VAE of the study, batch 64.
    # Chen et al.'s MLP β-TCVAE at their batch of 2,048 (the B × B minibatch estimator).
    'chen_mlp': lambda: _with(reproduce_chen2018.get_config(), method='beta_tcvae'),
    'ada_gvae': lambda: _with(default.get_config(), method='ada_gvae'),
    'factor_vae': lambda: _with(default.get_config(), method='factor_vae'),
}
_DEFAULT_TARGETS = 'h100:1,h100:8,h200:1,h200:8,v5e:1,v5e:4,v6e:1,v6e:4'

_TARGETS = flags.DEFINE_string('targets', _DEFAULT_TARGETS, 'NAME:DEVICES, comma-separated; '
                               f'names: {", ".join(targets.TARGETS)}.')
_WORKLOADS = flags.DEFINE_string('workloads', ','.join(WORKLOADS),
                                 f'Comma-separated, from: {", ".join(WORKLOADS)}.')
_WIDTHS = flags.DEFINE_string('widths', '1,8,64', 'Models per training program, comma-separated.')
_MOST = flags.DEFINE_bool('most', True, 'On one-device targets, also find the most models that '
                          'fit (several compiles each).')
_EVALUATION = flags.DEFINE_bool('evaluation', True, "On one-device targets, also compile one "
                                "model's evaluation programs.")
_CHECK = flags.DEFINE_bool('check', False, 'Exit 1 on a target that cannot be compiled for, a '
                           'collective across models, or a program that does not fit.')
_JSON = flags.DEFINE_string('json', '', 'Also write every row here (JSON).')


def _with(config, **overrides):
  config.update(overrides)
  return config


def _names(flag, text, allowed):
  names = [n.strip() for n in text.split(',') if n.strip()]
  if not names or any(n not in allowed for n in names):
    raise UserInputError(f'--{flag}={text!r} must list names from: {", ".join(allowed)}')
  return names


def _parse_targets(text):
  parsed = []
  for item in text.split(','):
    name, _, count = item.strip().partition(':')
    if name not in targets.TARGETS or not count.isdigit() or int(count) < 1:
      raise UserInputError(f'--targets={text!r}: each entry must be NAME:DEVICES with NAME from '
                           f'{", ".join(targets.TARGETS)} and DEVICES a positive integer')
    parsed.append((targets.TARGETS[name], int(count)))
  return parsed


def _parse_widths(text):
  try:
    widths = [int(w) for w in text.split(',')]
  except ValueError:
    widths = []
  if not widths or min(widths) < 1:
    raise UserInputError(f'--widths={text!r} must be comma-separated positive integers')
  return widths


def _setup(workload, target):
  """(config, dataset, model) of `workload` as `target` runs it (conv_impl=auto resolved there)."""
  config = WORKLOADS[workload]()
  config.conv_impl = layers.resolve_impl(config.conv_impl, target.platform)
  dataset = settings.check_config(config)
  return config, dataset, train.create_model(config, dataset.observation_shape)


def _collectives_text(row):
  crossing = row['across_models']
  text = ', '.join(f'{n} {kind}' + (f' ({crossing[kind]} across models)' if kind in crossing
                                     else '') for kind, n in sorted(row['collectives'].items()))
  return text or 'none'


def _line(target, count, program, models, row):
  if 'refused' in row:
    return (f'{target.name}×{count:<2} {program:<22} {models:>5} models  mesh {row["mesh"]}  '
            f'compile {row["compile_s"]:5.1f} s  DOES NOT FIT: {row["refused"]}')
  tpu = ''
  if row.get('roofline_us') is not None:
    tpu = (f'  {row["flops"] / 1e9:.1f} GFLOP, {row["bytes_accessed"] / 1e9:.2f} GB per step,'
           f' roofline {row["roofline_us"]:.0f} µs per '
           f'{"model-step" if program.startswith("train") else "call"}')
  return (f'{target.name}×{count:<2} {program:<22} {models:>5} models  mesh {row.get("mesh", "-")}'
          f'  compile {row["compile_s"]:5.1f} s  arg {row["argument_gib"]:.3f} out '
          f'{row["output_gib"]:.3f} temp {row["temp_gib"]:.3f} GiB  collectives: '
          f'{_collectives_text(row)}  {"fits" if row["fits"] else "DOES NOT FIT"}{tpu}')


def _rows(target, count, workloads, widths):
  """Every row of one target, as it is compiled (a target without its compiler: one row)."""
  try:
    devices = list(target.devices(count))
  except targets.Unavailable as e:
    logging.info('%s×%d: %s', target.name, count, e)
    yield {'target': target.name, 'devices': count, 'unavailable': f'{target.name}×{count}: {e}'}
    return
  for workload in workloads:
    config, dataset, model = _setup(workload, target)
    for width in widths:
      row = programs.training_row(config, dataset, model, width, devices)
      yield programs.assess(row, target, f'train {workload}', width, count)
    if count == 1 and _MOST.value:
      most = programs.most_models(config, dataset, model, devices, target)
      yield {'target': target.name, 'devices': count, 'program': f'train {workload}',
             'most_models_per_device': most}
    if count == 1 and _EVALUATION.value:
      for name, row in programs.evaluation_rows(config, dataset, model, devices[0]).items():
        yield programs.assess(row, target, f'{name} {workload}', 1, count)


def run():
  plan = _parse_targets(_TARGETS.value)
  workloads = _names('workloads', _WORKLOADS.value, WORKLOADS)
  widths = _parse_widths(_WIDTHS.value)
  every, problems = [], []
  for target, count in plan:
    for row in _rows(target, count, workloads, widths):
      stop = preemption.requested()  # Between compiles: nothing of the table is written yet.
      if stop:
        raise Interrupted(stop, f'{signal.Signals(stop).name}: stopped after {len(every)} '
                          'row(s); nothing written')
      every.append(row)
      if 'unavailable' in row:
        problems.append(row['unavailable'])
      elif 'most_models_per_device' in row:
        if not row['most_models_per_device']:
          problems.append(f'{target.name}×{count} {row["program"]}: not one model fits')
        logging.info('%s×%d %s: at most %d models per device fit (%.1f GiB usable, %d %% kept '
                     'free)', target.name, count, row['program'], row['most_models_per_device'],
                     target.usable_bytes / programs.GIB, 100 * loop.AUTO_GROUP_MARGIN)
      elif 'program' in row:
        logging.info('%s', _line(target, count, row['program'], row['models'], row))
        problems += row['problems']
  if _JSON.value:
    files.write_atomic(_JSON.value, json.dumps(every, indent=1, default=str).encode())
  if _CHECK.value and problems:
    raise UserInputError(f'{len(problems)} readiness problem(s): {"; ".join(problems)}')
  return every


def main(argv):
  del argv
  cli.run(run)


if __name__ == '__main__':
  cli.main(main)
