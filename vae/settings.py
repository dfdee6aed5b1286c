"""The settings boundary: every setting of a run checked once, before anything is written.

An entry point calls `check_config(config)`, which also opens the config's data source and returns
it; the library below trusts the config and the source it is handed. A bad setting is a one-line
UserInputError naming it as it is typed on the command line: `--config.NAME=VALUE must be ...`
(the wording of each rule is in `vae.rules`; each method's settings and their rules are its own
declaration, `vae.methods`). Settings a config does not have (a sweep's `num_seeds` in a single
run's config, a setting added after a run was saved) are not checked.
"""

import math

from vae import data
from vae import layers
from vae import likelihoods
from vae import methods
from vae import models
from vae import rules
from vae.errors import UserInputError
from vae.evaluation import aggregate_posterior
from vae.evaluation import downstream_task
from vae.evaluation import registry
from vae.evaluation import sampled_scores
from vae.evaluation import udr
from vae.studies import shards
from vae.training import parallel

# jax.random.key folds a seed onto 32 bits without jax_enable_x64: key(2**63 - 1) is
# key(2**32 - 1), so two runs would silently share their keys.
MAX_SEED = 2**32 - 1

# Each latent is a named scalar of every step's program (`kl_per_dim/i`) and a row of the traversal
# figure: the program's trace grows with the count (the tiny test run takes 51 s at 256 latents and
# 151 s at 2,048), so a million latents would trace for hours before the memory check.
MAX_LATENTS = 1024

_POSITIVE_INT_SETTINGS = ('latents', 'batch_size', 'num_train_steps', 'log_every_steps',
                          'eval_every_steps', 'checkpoint_every_steps', 'num_eval_examples',
                          'eval_batch_size', 'num_importance_samples',
                          'importance_chunk_size',
                          # Sweeps and the autoencoder comparison only.
                          'num_seeds', 'num_test_examples')

# The settings of the model and its training that are real numbers (each method's are its own).
_REAL_SETTINGS = {'fixed_logvar': rules.real(math.isfinite, 'a finite number'),
                  'learning_rate': rules.FINITE_POSITIVE}



def _check_seeds(config):
  """`seed` (and a sweep's last seed, seed + num_seeds - 1) in [0, MAX_SEED]."""
  for name in ('seed', 'test_seed'):
    value = config.get(name, 0)
    if not (rules.is_int(value) and 0 <= value <= MAX_SEED):
      raise UserInputError(
          f'--config.{name}={rules.shown(value)} must be an integer in [0, {MAX_SEED}]')
  if 'num_seeds' in config and config.seed + config.num_seeds - 1 > MAX_SEED:
    raise UserInputError(
        f'--config.seed={config.seed} with --config.num_seeds={config.num_seeds} must keep the '
        f'last seed, seed + num_seeds - 1, <= {MAX_SEED}')


def parse_methods(methods, allowed) -> tuple[str, ...]:
  """'ae,sparse_ae' (a comparison's `methods`, the command-line form) as a tuple of names from
  `allowed`."""
  names = tuple(m.strip() for m in methods.split(',') if m.strip())
  if not names or any(m not in allowed for m in names):
    raise UserInputError(f'--config.methods={methods!r} must list methods from: '
                         f"{', '.join(allowed)}")
  return names


def parse_values(name, values, symbol) -> tuple[float, ...]:
  """A sweep's list setting `name` ('1,2,4' or a sequence of numbers, each >= 0; +inf allowed,
  not NaN) as sorted unique floats; `symbol` names one value in the message ('β', 'gamma')."""
  items = values.split(',') if isinstance(values, str) else list(values)
  try:
    parsed = [float(v) for v in items]
  except (TypeError, ValueError):
    raise UserInputError(
        f"--config.{name}={values!r} must be comma-separated numbers, e.g. '1,2,4,8,16'") from None
  if not parsed or not all(v >= 0 for v in parsed):  # `not v >= 0` also refuses NaN.
    raise UserInputError(f'--config.{name}={values!r} must list one or more {symbol} >= 0')
  return tuple(sorted(set(parsed)))


def parse_betas(betas) -> tuple[float, ...]:
  """A β sweep's `betas` as sorted unique floats (see `parse_values`)."""
  return parse_values('betas', betas, 'β')


def sweep_strengths(config) -> tuple[float, ...]:
  """The strengths a sweep of `config.method` trains: `strengths`, else `betas` for a method
  whose strength is β, else the reference study's values (Locatello et al. 2019)."""
  strength = methods.get(config.method).strength
  if strength is None:
    swept = (name for name in methods.NAMES if methods.get(name).strength)
    raise UserInputError(f"--config.method={config.method} has no strength to sweep; allowed: "
                         f"{', '.join(swept)}")
  if config.get('strengths'):
    return parse_values('strengths', config.strengths, strength.setting)
  if strength.setting == 'beta' and config.get('betas'):
    return parse_betas(config.betas)
  return strength.defaults


def check_disentanglement(sizes, dataset=None, dataset_name=''):
  """The suite's settings (`config.disentanglement`): representations, sample sizes, and, where
  `dataset` is given, whether it can serve the whole-grid quantities that are asked for (Chen et
  al.'s need every grid point rendered in-graph, one way)."""
  scored = sizes.get('representations', 'mean').split(',')
  if 'mean' not in scored or not set(scored) <= {'mean', 'sampled'}:
    raise UserInputError(f"--config.disentanglement.representations={sizes.representations!r} "
                         "must be 'mean' or 'mean,sampled'")
  for name, (least, why) in registry.LEAST_SIZES.items():  # What each metric declares it needs.
    if name not in sizes:
      continue
    value, flag = sizes[name], f'--config.disentanglement.{name}'
    if least == 1:
      rules.POSITIVE_INT.check(flag, value)
    elif not (rules.is_int(value) and value >= least):
      raise UserInputError(f'{flag}={rules.shown(value)} must be an integer >= {least} ({why})')
  if not isinstance(sizes.get('skip_metrics', ''), str):
    raise UserInputError(f"--config.disentanglement.skip_metrics={rules.shown(sizes.skip_metrics)} "
                         "must be a comma list of metric names")
  for name in filter(None, sizes.get('skip_metrics', '').split(',')):
    rules.OneOf(tuple(m.name for m in registry.METRICS)).check(
        '--config.disentanglement.skip_metrics', name)
  if 'irs_diff_quantile' in sizes:
    rules.real(lambda v: 0 < v <= 1, 'in (0, 1]').check(
        '--config.disentanglement.irs_diff_quantile', sizes.irs_diff_quantile)
  if 'downstream_num_train' in sizes:
    rules.Rule(downstream_task.valid_train_sizes, 'four increasing integers, comma separated, '
               'the first at least 5 (e.g. 10,100,1000,10000)').check(
                   '--config.disentanglement.downstream_num_train', sizes.downstream_num_train)
  for name in aggregate_posterior.WHOLE_GRID_SCORES:
    value = sizes.get(name, False)
    if not isinstance(value, bool):
      raise UserInputError(f'--config.disentanglement.{name}={rules.shown(value)}: expected true or '
                           'false')
    if value and dataset is not None and not sampled_scores.can_tabulate(dataset):
      raise UserInputError(
          f'--config.disentanglement.{name}=true needs a source that renders its whole factor '
          f"grid in-graph, each tuple one way (procedural_dsprites); --config.dataset="
          f'{dataset_name} does not')


def check_udr(udr_settings):
  """A sweep's UDR settings (`config.udr`, `vae.evaluation.udr`)."""
  rules.Rule(lambda v: rules.is_int(v) and v >= 2, 'an integer >= 2 (Spearman ρ needs two '
             'points)').check('--config.udr.num_points', udr_settings.num_points)
  rules.FINITE_NON_NEGATIVE.check('--config.udr.kl_threshold', udr_settings.kl_threshold)
  rules.FINITE_POSITIVE.check('--config.udr.lasso_alpha', udr_settings.lasso_alpha)
  rules.OneOf(udr.PAIRS).check('--config.udr.pairs', udr_settings.pairs)


def check_config(config, dataset=None):
  """Checks every setting of `config`, a one-line UserInputError for the first that is wrong;
  returns its data source (`dataset` when the caller opened it already, else opened here)."""
  for name in _POSITIVE_INT_SETTINGS:
    if name in config:
      rules.POSITIVE_INT.check(f'--config.{name}', config[name])
  if 'models_per_step' in config:
    rules.MODELS_PER_STEP.check('--config.models_per_step', config.models_per_step)
  if config.model == 'mlp':
    rules.POSITIVE_INT.check('--config.hidden', config.hidden)
  if config.get('latents', 1) > MAX_LATENTS:
    raise UserInputError(f'--config.latents={config.latents} must be at most {MAX_LATENTS} '
                         '(one logged kl_per_dim/i and one traversal row per latent)')
  _check_seeds(config)
  setting_rules = {**_REAL_SETTINGS, **methods.setting_rules()}
  for name, rule in setting_rules.items():
    if name in config:
      rule.check(f'--config.{name}', config[name])
  rules.OneOf(models.ARCHITECTURES).check('--config.model', config.model)
  rules.OneOf(likelihoods.NAMES).check('--config.likelihood', config.likelihood)
  if 'conv_impl' in config:
    rules.OneOf(layers.CONV_IMPLS).check('--config.conv_impl', config.conv_impl)
  if dataset is None and 'dataset' in config:
    dataset = data.from_config(config)  # An unknown name, a missing or unreadable input: one line.
  method = methods.get(config.method)
  if 'betas' in config or 'strengths' in config:
    sweep_strengths(config)
  if dataset is not None:  # What the method needs of the source (β-TCVAE: its size).
    method.from_config(config, dataset.num_examples).check_source(dataset, config)
  if 'disentanglement' in config:
    check_disentanglement(config.disentanglement, dataset, config.get('dataset', ''))
  if 'udr' in config:
    check_udr(config.udr)
  if config.get('shard'):
    shards.parse(config.shard)
  _check_devices(config)
  return dataset


def _check_devices(config):
  """The mesh against this run's devices, and the cluster settings' types."""
  setting = config.get('mesh_shape', 'auto')
  if not isinstance(setting, str):
    raise UserInputError(f'--config.mesh_shape={rules.shown(setting)}: expected auto or M,D')
  if setting != 'auto':  # An `auto` mesh depends on the group, and always fits the devices.
    parallel.layout(config, 1)  # Raises for a mesh or a batch that does not fit the devices.
  if not isinstance(config.get('distributed', False), bool):
    raise UserInputError(f'--config.distributed={rules.shown(config.distributed)}: expected true '
                         'or false')
