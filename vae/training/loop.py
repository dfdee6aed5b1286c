"""The run loop: trains groups of models to the end, writing through `vae.training.run_directory`.

Members are cut into groups (`group_size`) in their given order, and a group always trains
with that many slots: a member already finished (or failed) still holds its slot, filled with a
copy of a trainee's state and never written. XLA's results depend on the vmapped width, not on
what the other slots hold, so a model's parameters are the same bits however a crash or a
partial resume left its group. The trainees of a group resume together from the newest step at
which all of them have an intact checkpoint; steps are fused between log/eval/checkpoint
boundaries, which depend only on the step, so a resumed run fuses exactly the steps an
uninterrupted one fused. The train metrics accumulated since the last log row travel in the
checkpoint, so the resumed row averages the same steps.

A stop request (`vae.preemption`) is honoured after the current fused chunk: every
trainee is checkpointed, and `errors.Interrupted` is raised.
"""

import dataclasses
import functools
import math
import signal
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from vae import methods
from vae import preemption
from vae import rules
from vae import settings
from vae.errors import Interrupted
from vae.errors import UserInputError
from vae.training import memory
from vae.training import parallel
from vae.training import run_directory
from vae.training import train


@dataclasses.dataclass
class MemberResult:
  eval_metrics: dict | None = None
  failure: str | None = None


def _stack(trees):
  return jax.tree.map(lambda *xs: np.stack(xs), *trees)


def _next_boundary(step, config):
  everies = (config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps)
  return min([config.num_train_steps] + [(step // e + 1) * e for e in everies])


_PROGRAMS = {}  # Compiled chunks by their argument shapes: compiled once, measured, then run.


def first_chunk_steps(config) -> int:
  """The steps fused in a run's first chunk (up to its first log, eval or checkpoint)."""
  return _next_boundary(0, config)


def chunk_program(layout, states, train_keys, dataset, batch_size, num_steps):
  """The compiled program for `num_steps` steps of every model (step by step for host data),
  its inputs and outputs placed by `layout`; each step's batch is what the states' method draws
  from `dataset` (`Method.sampler`)."""
  sample = states.method.sampler(dataset)
  leaves = tuple((x.shape, x.dtype) for x in jax.tree.leaves((states, train_keys)))
  key = (layout.mesh, jax.tree.structure(states), leaves, batch_size, sample,
         num_steps if dataset.jittable else None)
  if key not in _PROGRAMS:
    states, train_keys = layout.abstract(states), layout.abstract(train_keys)
    if dataset.jittable:
      one_model = functools.partial(train.train_steps,
                                    sample_batch=layout.in_graph_sampler(sample),
                                    batch_size=batch_size, num_steps=num_steps)
      inputs = (states, train_keys)
    else:
      one_model = train.pure_train_step
      # A host batch's structure, from one drawn batch (a host source cannot be traced).
      inputs = (states, layout.abstract_batches(sample(jax.random.key(0), batch_size)),
                train_keys)
    jitted = jax.jit(layout.per_device(one_model), donate_argnums=0,
                     out_shardings=layout.state_sharding)
    _PROGRAMS[key] = memory.compile_for_device(jitted.lower(*inputs))
  return _PROGRAMS[key]


def _run_steps(layout, states, train_keys, dataset, batch_size, num_steps):
  """`num_steps` steps of every model: in one program for in-graph data, else step by step."""
  program = chunk_program(layout, states, train_keys, dataset, batch_size, num_steps)
  if dataset.jittable:
    return program(states, train_keys)
  sample = states.method.sampler(dataset)
  history, host_keys = [], layout.to_host(jax.random.key_data(train_keys))
  for _ in range(num_steps):
    keys = [train.step_keys(jax.random.wrap_key_data(k), s)
            for k, s in zip(host_keys, layout.to_host(states.step))]
    batches = _stack([sample(data_key, batch_size) for data_key, _ in keys])
    states, metrics = program(states, layout.place_batches(batches),
                              layout.place(jnp.stack([k for _, k in keys])))
    history.append(metrics)
  return states, jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *history)


def eval_bytes(config, dataset, width):
  """The evaluation images the loop holds beside a group of `width` models."""
  return width * config.num_eval_examples * int(np.prod(dataset.observation_shape)) * 4


# The share of a device's memory a group sized by `models_per_step=auto` leaves free: XLA's
# compile-time estimate is not autotuned (a GPU's autotuned kernels may take other scratch space)
# and the runtime holds its own buffers (the loop's metrics, the evaluation's programs).
AUTO_GROUP_MARGIN = 0.2


def group_program(config, dataset, model, width, devices):
  """The compiled first chunk of training `width` models laid out over `devices`, and its
  layout: what a group of that width runs, compiled from shapes alone."""
  layout = parallel.layout(config, width, devices)
  states, keys = train.abstract_group(config, model, dataset.observation_shape, layout.width,
                                      dataset.num_examples)
  return chunk_program(layout, states, keys, dataset, config.batch_size,
                       first_chunk_steps(config)), layout


def group_bytes(config, dataset, model, width, devices):
  """Per-device bytes of training `width` models on `devices`: the compiled chunk (arguments,
  outputs, temporaries) and the evaluation images; infinite when the compiler itself refuses
  the program for the device's memory (the TPU compiler does)."""
  try:
    program, _ = group_program(config, dataset, model, width, devices)
  except memory.RefusedByCompiler:
    return math.inf
  return memory.program_bytes(program) + eval_bytes(config, dataset, width)


def largest_group(config, dataset, model, most, devices, available):
  """The most models, at most `most`, that train together on `devices` within `available`
  bytes per device, `AUTO_GROUP_MARGIN` of it kept free (bisection over compiled programs:
  memory grows with the width). 0 when not even one fits."""
  budget = (1 - AUTO_GROUP_MARGIN) * available
  low, high = 0, most
  while low < high:
    width = (low + high + 1) // 2
    if group_bytes(config, dataset, model, width, devices) <= budget:
      low = width
    else:
      high = width - 1
  return low


def group_size(setting, config, dataset, model, num_members, devices=None):
  """Models per group from `--config.models_per_step`: a number, or `auto`: on the CPU every
  member at once; on an accelerator the most that fit its free memory (`largest_group`)."""
  setting = rules.models_per_step(setting)
  if setting != 'auto':
    return setting
  devices = devices or jax.devices()
  if devices[0].platform == 'cpu':
    return num_members
  return max(1, largest_group(config, dataset, model, num_members, devices,
                              memory.available_bytes(devices[0])[0]))


def check_memory(config, dataset, model, layout):
  """A one-line error, before anything is written, when a group laid out by `layout` does not
  fit to train."""
  width = layout.width
  states, keys = train.abstract_group(config, model, dataset.observation_shape, width,
                                      dataset.num_examples)
  images = eval_bytes(config, dataset, width)
  what = f'training {width} model(s)'
  hint = (f'--config.batch_size={config.batch_size}, --config.latents={config.latents}, '
          f'--config.num_eval_examples={config.num_eval_examples}' +
          (f', --config.hidden={config.hidden}' if config.model == 'mlp' else '') +
          (', --config.discriminator_hidden' if config.method == 'factor_vae' else '') +
          (', --config.models_per_step' if 'models_per_step' in config else ''))
  # The state (parameters, Adam's two moments) and as much again for the gradients and the
  # updated state, at the least: refused before compiling, which for such shapes takes long.
  # Each device holds 1/M of the models (M = the mesh's `models` axis).
  per_device = memory.tree_bytes(states) // layout.mesh.shape[parallel.MODELS]
  memory.check_fits(2 * per_device + images, what, hint)
  try:
    program = chunk_program(layout, states, keys, dataset, config.batch_size,
                            first_chunk_steps(config))
  except memory.RefusedByCompiler as e:
    raise UserInputError(f'{what} does not fit the device ({e}): lower {hint}') from None
  memory.check_fits(memory.program_bytes(program) + images, what, hint)


def _divergence(config, loss, step):
  """Why a model's loss became `loss` (not finite) before `step`, naming the setting to change."""
  setting = methods.strength_setting(config.method)
  if setting and not np.isfinite(methods.strength_of(config)):
    strength = config[setting]
    return (f'non-finite loss {loss} before step {step}: --config.{setting}={strength} multiplies '
            f'a loss term; use a finite {setting}')
  return (f'non-finite loss {loss} before step {step}: lower --config.learning_rate or check the '
          'data')


def _mean_over_steps(history, slot):
  return {name: float(np.mean(values[slot])) for name, values in history.items()}


def _concat(history):
  return jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *history)


def _pending(history, slot):
  """The train metrics of one model since its last log row, as JSON (float32 values, exact)."""
  if not history:
    return {}
  return {name: values[slot].tolist() for name, values in _concat(history).items()}


def _log_progress(step, config, alive, metrics, seconds):
  means = [_mean_over_steps(metrics, i) for i in alive]
  summary = '  '.join(f'{name} {np.mean([m[name] for m in means]):.2f}'
                      for name in ('loss', 'recon', 'kl') if name in means[0])
  logging.info('step %d/%d  %s  %.2f steps/s x %d models  ETA %.0f s', step,
               config.num_train_steps, summary, 1 / seconds, len(alive),
               (config.num_train_steps - step) * seconds)


def _common_start(runs, num_train_steps):
  """The newest step at which every run has an intact checkpoint (0: start afresh)."""
  shared = set.intersection(*[{s for s in r.checkpoints.intact_steps() if s <= num_train_steps}
                              for r in runs])
  return max(shared | {0})


def _save(run, state, history, slot):
  run.checkpoints.save(state, {'pending': _pending(history, slot)})


def _train(config, dataset, runs, layout):
  """Trains `runs` (one group in `layout.width` slots) to the end: {run: final state or
  failure}."""
  start = _common_start(runs, config.num_train_steps)
  parallel.barrier('resume step chosen')  # Before process 0 discards the newer checkpoints.
  if start:
    logging.info('resuming %d model(s) from the checkpoint at step %d', len(runs), start)
  restored = [run.start(start) for run in runs]
  fill = layout.width - len(runs)
  states = layout.place(_stack([s for s, _ in restored] + [restored[0][0]] * fill))
  train_keys = layout.place(jnp.stack([r.keys['train'] for r in runs] +
                                      [runs[0].keys['train']] * fill))
  pending = [p.get('pending') for _, p in restored]
  history = []
  if pending[0]:
    history.append({name: np.stack([np.asarray(p[name], np.float32) for p in pending] +
                                   [np.asarray(pending[0][name], np.float32)] * fill)
                    for name in pending[0]})
  outcome, step = {}, start
  since, since_step = time.perf_counter(), step
  while step < config.num_train_steps:
    num_steps = _next_boundary(step, config) - step
    states, metrics = _run_steps(layout, states, train_keys, dataset, config.batch_size,
                                 num_steps)
    step += num_steps
    metrics = layout.to_host(metrics)
    for i, run in enumerate(runs):
      loss = metrics['loss'][i]
      if run not in outcome and not np.all(np.isfinite(loss)):
        outcome[run] = _divergence(run.config, loss[~np.isfinite(loss)][0], step)
        logging.warning('%s: %s', run.member.workdir, outcome[run])
    alive = [i for i, run in enumerate(runs) if run not in outcome]
    if not alive:
      return outcome
    history.append(metrics)
    if step % config.log_every_steps == 0 or step == config.num_train_steps:
      seconds = (time.perf_counter() - since) / (step - since_step)
      window = _concat(history)
      for i in alive:
        if runs[i].owned:
          runs[i].writer.write(step, 'train',
                               {**_mean_over_steps(window, i), 'steps_per_s': 1 / seconds})
      _log_progress(step, config, alive, window, seconds)
      history, since, since_step = [], time.perf_counter(), step
    due_eval = step % config.eval_every_steps == 0 or step == config.num_train_steps
    due_checkpoint = step % config.checkpoint_every_steps == 0 or step == config.num_train_steps
    stop = parallel.any_process(preemption.requested())
    if not (due_eval or due_checkpoint or stop):
      continue
    members = layout.members(states, len(runs))
    for i in alive:
      if due_eval and runs[i].owned:
        runs[i].log_eval(members[i])
      if (due_checkpoint or stop) and parallel.writes_checkpoints():
        _save(runs[i], members[i], history, i)
    parallel.barrier(f'checkpoints of step {step}')
    if stop:
      raise Interrupted(stop, f'{signal.Signals(stop).name}: stopped at step {step} with '
                        f'{len(alive)} model(s) checkpointed; re-run the same command to resume')
  members = layout.members(states, len(runs))
  return {run: outcome.get(run, members[i]) for i, run in enumerate(runs)}


def _run_group(config, dataset, model, group, disentanglement):
  """Trains and finishes the unfinished members of one group: {member: MemberResult}."""
  num_steps = config.num_train_steps
  results, todo = {}, []
  for member in group:
    why = run_directory.failure(member.workdir)
    if why:
      results[member] = MemberResult(failure=why)
    elif run_directory.is_complete(member.workdir, num_steps):
      run_directory.check_finished_config(member, config)
      logging.info('%s is complete at step %d: nothing to do', member.workdir, num_steps)
      results[member] = MemberResult(run_directory.final_eval_row(member.workdir, num_steps))
    else:
      todo.append(member)
  layout, runs = parallel.layout(config, len(group)), []
  try:
    for member in todo:
      runs.append(run_directory.RunDir(member, config, dataset, model,
                                       owned=layout.owns(group.index(member))))
    trainees = [r for r in runs if num_steps not in r.checkpoints.intact_steps()]
    final = _train(config, dataset, trainees, layout) if trainees else {}
    for i, run in enumerate(runs):
      if isinstance(final.get(run), str):
        results[run.member] = MemberResult(failure=final[run])
        continue
      if not run.owned:  # Another process finishes it; its result is read from its files.
        results[run.member] = MemberResult()
        continue
      stop = preemption.requested()
      if stop:
        raise Interrupted(stop, f'{signal.Signals(stop).name}: stopped before finishing '
                          f'{run.member.workdir}; re-run the same command to resume')
      state = final.get(run)
      if state is None:
        state = run.checkpoints.restore(num_steps, run.initial_state)[0]
      logging.info('finishing model %d/%d: %s', i + 1, len(runs), run.member.workdir)
      results[run.member] = MemberResult(run.finish(state, disentanglement))
  finally:
    for run in runs:
      run.close()
  return results


def train_members(config, dataset, members, models_per_step=None,
                  disentanglement=None) -> list[MemberResult]:
  """Trains each member (strength, seed, workdir) of `config` on `dataset` to the end and
  finishes it; `config` is checked (`vae.settings.check_config`) and `dataset` is its source.

  Members train `models_per_step` at a time (a number or 'auto', `group_size`; default: all at
  once). Finishing writes the figures, the disentanglement suite's scores at the sample sizes
  `disentanglement` when given (`vae.evaluation.model_evaluation`), and marks the model
  complete. Re-running skips complete
  members and resumes the rest exactly. Returns one MemberResult per member.
  """
  model = train.create_model(config, dataset.observation_shape)
  width = group_size(models_per_step or len(members), config, dataset, model, len(members))
  check_memory(config, dataset, model, parallel.layout(config, min(width, len(members))))
  results = {}
  for start in range(0, len(members), width):
    results.update(_run_group(config, dataset, model, members[start:start + width],
                              disentanglement))
  parallel.barrier('every member finished')  # Before process 0 reads their files.
  return [results[m] for m in members]


def train_and_evaluate(config, workdir, dataset=None):
  """Trains `config` in `workdir` (resuming from its checkpoints); returns the final eval row.

  `config` is checked and its source opened here, unless the caller did and hands `dataset` over.
  """
  if dataset is None:
    dataset = settings.check_config(config)
  member = run_directory.Member(methods.strength_of(config), config.seed, workdir)
  result = train_members(config, dataset, [member])[0]
  if result.failure:
    raise FloatingPointError(result.failure)
  return result.eval_metrics
