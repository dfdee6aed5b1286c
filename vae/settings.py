"""Every setting of a run checked before anything is written: `check_config(config)`.

A bad setting is a one-line UserInputError naming it as it is typed on the command line:
`--config.NAME=VALUE must be ...`. Settings a config does not have (a sweep's `num_seeds` in a
single run's config, a setting added after a run was saved) are not checked.
"""

import inspect
import math
import numbers

from vae import data
from vae import disentangling_losses
from vae import layers
from vae import likelihoods
from vae import models
from vae import objectives
from vae.errors import UserInputError
from vae.evaluation import aggregate_posterior
from vae.evaluation import mig
from vae.evaluation import modularity
from vae.evaluation import sampled_scores
from vae.evaluation import unsupervised
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
                          'eval_batch_size', 'num_probes', 'num_importance_samples',
                          'importance_chunk_size', 'annealed_steps', 'discriminator_hidden',
                          'discriminator_layers',
                          # Sweeps and the autoencoder comparison only.
                          'num_seeds', 'models_per_step', 'num_test_examples')

# Real settings: (name, allowed, what the message says is allowed).
_REAL_SETTINGS = (
    ('fixed_logvar', math.isfinite, 'a finite number'),
    # +inf is allowed: a deliberately diverging sweep member (its failure is recorded, not fatal).
    ('beta', lambda v: v >= 0, '>= 0'),
    ('gamma', lambda v: v >= 0, '>= 0'),
    ('lambda_od', lambda v: v >= 0, '>= 0'),
    ('capacity_max', lambda v: v >= 0, '>= 0'),
    ('annealed_gamma', lambda v: 0 <= v < math.inf, 'a finite number >= 0'),
    ('discriminator_learning_rate', lambda v: 0 < v < math.inf, 'a finite number > 0'),
    ('learning_rate', lambda v: 0 < v < math.inf, 'a finite number > 0'),
    ('sparsity_weight', lambda v: 0 <= v < math.inf, 'a finite number >= 0'),
    ('sparsity_target', lambda v: 0 < v < 1, 'in (0, 1)'),
    ('noise_std', lambda v: 0 <= v < math.inf, 'a finite number >= 0'),
    ('drop_probability', lambda v: 0 <= v < 1, 'in [0, 1)'),
    ('contractive_weight', lambda v: 0 <= v < math.inf, 'a finite number >= 0'),
)

# The suite calls these with their default histogram size: fewer points than bins raises.
_HISTOGRAM_BINS = max(inspect.signature(f).parameters['num_bins'].default
                      for f in (mig.mig, modularity.modularity_explicitness,
                                unsupervised.unsupervised))

# config.disentanglement sizes: (least value, why, when more than 1).
_DISENTANGLEMENT_SIZES = {
    'num_train': (_HISTOGRAM_BINS, f'MIG, modularity and the unsupervised scores histogram the '
                                   f'codes into {_HISTOGRAM_BINS} bins'),
    'num_test': (2, 'the explicitness ROC AUC needs two test points'),
    'encode_batch_size': (1, ''),
    'sampled_batch_size': (2, 'BetaVAE pairs and FactorVAE variances need two per batch'),
    'sampled_num_train': (1, ''),
    'sampled_num_eval': (1, ''),
    'num_variance_estimate': (2, 'the FactorVAE global variance needs two points'),
    'aggregate_samples': (1, ''),
}


def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value):
  """`value` as the message shows it: a string quoted, so that '4' is not taken for 4."""
  return repr(value) if isinstance(value, str) else value


def _check_positive_int(flag, value):
  if not (_is_int(value) and value > 0):
    raise UserInputError(f'{flag}={_shown(value)} must be a positive integer')


def _check_one_of(name, value, allowed):
  if value not in allowed:
    raise UserInputError(
        f"unknown {name} '{value}' (--config.{name}); allowed: {', '.join(allowed)}")


def _check_seeds(config):
  """`seed` (and a sweep's last seed, seed + num_seeds - 1) in [0, MAX_SEED]."""
  for name in ('seed', 'test_seed'):
    value = config.get(name, 0)
    if not (_is_int(value) and 0 <= value <= MAX_SEED):
      raise UserInputError(
          f'--config.{name}={_shown(value)} must be an integer in [0, {MAX_SEED}]')
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
  setting = objectives.STRENGTH_SETTINGS.get(config.method)
  if setting is None:
    raise UserInputError(f"--config.method={config.method} has no strength to sweep; allowed: "
                         f"{', '.join(objectives.STRENGTH_SETTINGS)}")
  if config.get('strengths'):
    return parse_values('strengths', config.strengths, setting)
  if setting == 'beta' and config.get('betas'):
    return parse_betas(config.betas)
  method = 'beta_vae' if config.method == 'vae' else config.method
  return disentangling_losses.DEFAULT_STRENGTHS[method]


def check_disentanglement(sizes, dataset=None, dataset_name=''):
  """The suite's settings (`config.disentanglement`): representations, sample sizes, and, where
  `dataset` is given, whether it can serve the whole-grid quantities that are asked for (Chen et
  al.'s need every grid point rendered in-graph, one way)."""
  scored = sizes.get('representations', 'mean').split(',')
  if 'mean' not in scored or not set(scored) <= {'mean', 'sampled'}:
    raise UserInputError(f"--config.disentanglement.representations={sizes.representations!r} "
                         "must be 'mean' or 'mean,sampled'")
  for name, (least, why) in _DISENTANGLEMENT_SIZES.items():
    if name not in sizes:
      continue
    value, flag = sizes[name], f'--config.disentanglement.{name}'
    if least == 1:
      _check_positive_int(flag, value)
    elif not (_is_int(value) and value >= least):
      raise UserInputError(f'{flag}={_shown(value)} must be an integer >= {least} ({why})')
  for name in aggregate_posterior.WHOLE_GRID_SCORES:
    value = sizes.get(name, False)
    if not isinstance(value, bool):
      raise UserInputError(f'--config.disentanglement.{name}={_shown(value)}: expected true or '
                           'false')
    if value and dataset is not None and not sampled_scores.can_tabulate(dataset):
      raise UserInputError(
          f'--config.disentanglement.{name}=true needs a source that renders its whole factor '
          f"grid in-graph, each tuple one way (procedural_dsprites); --config.dataset="
          f'{dataset_name} does not')


def check_config(config):
  """Raises a one-line UserInputError for a setting outside its allowed range."""
  for name in _POSITIVE_INT_SETTINGS:
    if name in config:
      _check_positive_int(f'--config.{name}', config[name])
  if config.model == 'mlp':
    _check_positive_int('--config.hidden', config.hidden)
  if config.get('latents', 1) > MAX_LATENTS:
    raise UserInputError(f'--config.latents={config.latents} must be at most {MAX_LATENTS} '
                         '(one logged kl_per_dim/i and one traversal row per latent)')
  _check_seeds(config)
  for name, allowed, description in _REAL_SETTINGS:
    if name in config:
      value = config[name]
      if not (_is_real(value) and allowed(value)):
        raise UserInputError(f'--config.{name}={_shown(value)} must be {description}')
  _check_one_of('model', config.model, models.ARCHITECTURES)
  _check_one_of('likelihood', config.likelihood, likelihoods.NAMES)
  if 'conv_impl' in config:
    _check_one_of('conv_impl', config.conv_impl, layers.CONV_IMPLS)
  dataset = None
  if 'dataset' in config:
    dataset = data.from_config(config)  # An unknown name, a missing or unreadable input: one line.
  objectives.from_config(config)  # Raises for an unknown method or a setting out of range.
  if 'betas' in config or 'strengths' in config:
    sweep_strengths(config)
  if not (_is_int(config.get('dataset_size', 0)) and config.get('dataset_size', 0) >= 0):
    raise UserInputError(f"--config.dataset_size={_shown(config.dataset_size)} must be an "
                         'integer >= 0 (0: the data source\'s own size)')
  if 'disentanglement' in config:
    check_disentanglement(config.disentanglement, dataset, config.get('dataset', ''))
  _check_devices(config)


def _check_devices(config):
  """The mesh against this run's devices, and the cluster settings' types."""
  setting = config.get('mesh_shape', 'auto')
  if not isinstance(setting, str):
    raise UserInputError(f'--config.mesh_shape={_shown(setting)}: expected auto or M,D')
  if setting != 'auto':  # An `auto` mesh depends on the group, and always fits the devices.
    parallel.layout(config, 1)  # Raises for a mesh or a batch that does not fit the devices.
  if not isinstance(config.get('distributed', False), bool):
    raise UserInputError(f'--config.distributed={_shown(config.distributed)}: expected true '
                         'or false')
