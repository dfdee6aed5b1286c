"""What one model's run directory holds, in what order it is written, what marks it finished.

    config.json              what defines the model (`member_config`), written first
    metrics.jsonl            train/eval rows; rows after the restored checkpoint are dropped
    events.out.tfevents.*    TensorBoard: scalars and HParams rebuilt from the saved files when
                             the run is opened and finished; each eval step's images in a file
                             of their own (`vae.training.metric_writer`)
    checkpoints/<step>/      verified checkpoints (`vae.training.checkpoint`), newest 2 intact kept
    figures/*.png            from the final state (`vae.evaluation.model_evaluation`)
    eval_disentanglement.json  (sweeps) the suite's scores of the final state (`evaluate_run`
                             scores a finished run again)
    complete.json            written last, atomically: the model is finished at its `step`

A model is finished only when `complete.json` names `num_train_steps`. Everything else is
rebuilt from the newest intact checkpoint when a run is re-opened: the rows after it, the events,
and (from the final checkpoint) the figures and scores. Every file is written whole (write, then
rename), and a `.lock` held by the writing process keeps a second writer out.
"""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import ml_collections

from vae import files
from vae import methods
from vae import settings
from vae.errors import UserInputError
from vae.evaluation import model_evaluation
from vae.training import checkpoint
from vae.training import metric_writer
from vae.training import parallel
from vae.training import train
from vae.training.metric_writer import MetricWriter, read_metrics

CONFIG_FILE = 'config.json'
COMPLETE_FILE = 'complete.json'
FAILED_FILE = 'failed.txt'
FIGURES_DIR = model_evaluation.FIGURES_DIR


@dataclasses.dataclass(frozen=True)
class Member:
  """One model: its method's strength (β, γ, λ_od or C_max), its seed, the directory it writes
  to."""

  strength: float
  seed: int
  workdir: str


# A study's own settings: which models it holds (a sweep's strengths and seeds, a comparison's
# methods and test inputs), not what any one of them is. A model's saved config leaves them out,
# so a finished model is finished under any study that holds it.
STUDY_SETTINGS = ('betas', 'strengths', 'num_seeds', 'models_per_step', 'methods',
                  'method_strengths', 'method_variants', 'num_test_examples', 'test_seed', 'udr',
                  'shard')


def member_config(config, member: Member):
  """What defines the model: `config`'s data, model, method (its own settings only), training
  and evaluation settings, with the member's own strength and seed; no study or device settings."""
  config = config.copy_and_resolve_references()
  setting = methods.strength_setting(config.method)
  others = set(methods.setting_rules()) - set(methods.own_settings(config.method))
  with config.unlocked():
    if setting:
      config[setting] = member.strength
    config.seed = member.seed
    for name in (*STUDY_SETTINGS, *parallel.DEVICE_SETTINGS, *sorted(others)):
      if name in config:
        del config[name]
  return config


def completed_step(workdir):
  """The step `complete.json` records, or None for a model not finished."""
  path = os.path.join(workdir, COMPLETE_FILE)
  if not os.path.exists(path):
    return None
  return files.read_json(path, 'completion marker').get('step')


def is_complete(workdir, num_train_steps) -> bool:
  return completed_step(workdir) == num_train_steps


def failure(workdir):
  """Why the model failed (its `failed.txt`), or None."""
  path = os.path.join(workdir, FAILED_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return f.read().strip()


def record_failure(workdir, why):
  files.write_atomic(os.path.join(workdir, FAILED_FILE), why + '\n')


def final_eval_row(workdir, num_train_steps):
  """The eval row at `num_train_steps` (without step and split), or None."""
  rows = [r for r in read_metrics(workdir, split='eval') if r['step'] == num_train_steps]
  if not rows:
    return None
  return {k: float(v) for k, v in rows[-1].items() if k not in ('step', 'split')}


def read_config(workdir):
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise UserInputError(f'--workdir={workdir} holds no trained model (no {CONFIG_FILE})')
  return ml_collections.ConfigDict(files.read_json(path, 'the run config'))


def check_finished_config(member: Member, config):
  """A one-line error when a finished model was trained with other settings than `config`.

  Only what defines the model is compared: a config saved with more settings (a study's, the
  devices', other methods') is the same model when the settings it shares agree.
  """
  saved = read_config(member.workdir).to_dict()
  wanted = json.loads(member_config(config, member).to_json())
  changed = sorted(k for k in wanted if saved.get(k) != wanted[k])
  if changed:
    diffs = ', '.join(f'{k}: {saved.get(k)!r} -> {wanted.get(k)!r}' for k in changed)
    raise UserInputError(f'--workdir={member.workdir} holds a finished model with other '
                         f'settings ({diffs}); use a new --workdir')


class RunDir:
  """A model's run directory opened for writing: locked, swept of temporaries, checkpoints read.

  Holds the model's keys, its fixed eval set and (once `start` ran) its metric writer. With
  several processes (`vae.training.parallel`), only the one that `owned` it writes its files, and
  only process 0 its checkpoints; the others read the checkpoints to resume their part of the group.
  """

  def __init__(self, member: Member, config, dataset, model, owned=True):
    self.owned = owned
    self._lock = None
    if owned:
      files.prepare_directory(member.workdir)
      self._lock = files.DirectoryLock(member.workdir)
    self.member = member
    self.config = member_config(config, member)
    self.dataset = dataset
    self.checkpoints = checkpoint.Checkpoints(member.workdir)
    if owned:
      files.remove_temporaries(member.workdir, os.path.join(member.workdir, FIGURES_DIR))
    if parallel.writes_checkpoints():
      files.remove_temporaries(self.checkpoints.directory)
    self.checkpoints.require_intact()
    self.keys = train.named_keys(member.seed)
    self.initial_state = train.create_train_state(
        self.keys['init'], self.config, model, dataset.observation_shape, dataset.num_examples)
    self.eval_images = jnp.asarray(dataset.sample(self.keys['eval_data'],
                                                  config.num_eval_examples)) if owned else None
    self.writer = None

  def start(self, step):
    """(state, progress) at `step` (0: the initial state), forgetting all that came after it."""
    state, progress = self.initial_state, {}
    if step:  # First, so that a checkpoint of another model shape changes nothing on disk.
      state, progress = self.checkpoints.restore(step, self.initial_state)
    if parallel.writes_checkpoints():
      self.checkpoints.warn_damaged_after(step)
      self.checkpoints.discard_after(step)
    if not self.owned:
      return state, progress
    marker = os.path.join(self.member.workdir, COMPLETE_FILE)
    if os.path.exists(marker):  # A longer budget than the one it finished.
      os.remove(marker)
    files.write_atomic(os.path.join(self.member.workdir, CONFIG_FILE),
                       self.config.to_json(indent=1) + '\n')
    self.writer = MetricWriter(self.member.workdir, resume_step=step)
    return state, progress

  def evaluate(self, state):
    """The eval row of `state` (`model_evaluation.eval_row`: the final one of a VAE adds `log_px`
    and `elbo_gap`)."""
    return model_evaluation.eval_row(state, self.eval_images, self.keys, self.config)

  def log_eval(self, state):
    """Writes the eval row of `state` and its images (`model_evaluation.eval_images`)."""
    self.writer.write(int(state.step), 'eval', self.evaluate(state))
    self._write_images(state)

  def _write_images(self, state):
    metric_writer.write_images(self.member.workdir, int(state.step), model_evaluation.eval_images(
        state, self.eval_images, self.keys['sample']))

  def finish(self, state, disentanglement=None):
    """The final evaluation (`model_evaluation.write_final`: figures, then the suite's files at
    the sample sizes `disentanglement`, if given), then the completion marker, last."""
    step = int(state.step)
    self.checkpoints.prune()  # A kill may have cut the pruning after the final save short.
    eval_metrics = final_eval_row(self.member.workdir, step)
    if eval_metrics is None:  # The row was lost with a damaged file: rebuild it from the state.
      if self.writer is None:
        self.writer = MetricWriter(self.member.workdir, resume_step=step)
      eval_metrics = self.evaluate(state)
      self.writer.write(step, 'eval', eval_metrics)
    model_evaluation.write_final(self.member.workdir, state, self.eval_images, self.keys,
                                 eval_metrics, self.dataset, disentanglement)
    if not metric_writer.has_images(self.member.workdir, step):  # Lost with a killed attempt.
      self._write_images(state)
    if self.writer is not None:
      self.writer.close()  # Before the rebuild deletes its event file.
      self.writer = None
    # With the scores and whatever events a killed attempt lost, from the saved files.
    metric_writer.rebuild_events(self.member.workdir)
    files.write_json_atomic(os.path.join(self.member.workdir, COMPLETE_FILE), {'step': step})
    return eval_metrics

  def close(self):
    if self.writer is not None:
      self.writer.close()
    if self._lock is not None:
      self._lock.release()


def restore_run(workdir, dataset=None):
  """(config, dataset, state) of the model saved in `workdir`, at its newest intact checkpoint.

  The saved config is checked and its source opened, unless the caller hands over `dataset`.

  A damaged newer checkpoint is passed over with a warning; none intact is a one-line error.
  """
  config = read_config(workdir)
  with config.unlocked():  # This process's devices, not the training run's.
    for name in parallel.DEVICE_SETTINGS:
      if name in config:
        del config[name]
  if dataset is None:
    dataset = settings.check_config(config)
  model = train.create_model(config, dataset.observation_shape)
  state = train.create_train_state(jax.random.key(0), config, model, dataset.observation_shape,
                                   dataset.num_examples)
  checkpoints = checkpoint.Checkpoints(workdir)
  checkpoints.require_intact()
  intact = checkpoints.intact_steps()
  if not intact:
    raise UserInputError(f'--workdir={workdir} has no checkpoint to evaluate')
  checkpoints.warn_damaged_after(intact[0])
  return config, dataset, checkpoints.restore(intact[0], state)[0]


def evaluate_run(workdir, sizes=None, **overrides):
  """Scores the model saved in `workdir` (its newest intact checkpoint) with the disentanglement
  suite (`model_evaluation.write_scores`), holding its lock.

  `overrides` replace entries of the sample sizes (the run's own `config.disentanglement`
  unless `sizes` is given), e.g. `chen_mig=True` to add Chen et al.'s MIG to a finished run.
  """
  read_config(workdir)  # A directory without a model is a one-line error, not a lock.
  lock = files.DirectoryLock(workdir)
  try:
    config, dataset, state = restore_run(workdir)
    sizes = (sizes or config.disentanglement).copy_and_resolve_references()
    with sizes.unlocked():
      sizes.update(overrides)
    settings.check_disentanglement(sizes, dataset, config.dataset)
    step = int(state.step)
    scores = model_evaluation.write_scores(workdir, state, dataset,
                                           train.named_keys(config.seed)['disentanglement'],
                                           sizes, final_eval_row(workdir, step))
    metric_writer.rebuild_events(workdir)  # The new scores as scalars and HParams metrics.
    return scores
  finally:
    lock.release()
