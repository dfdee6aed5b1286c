"""`settings.check_config`: a bad setting is one UserInputError naming it; the configs pass."""

import math

import ml_collections
import pytest

from experiments.configs import autoencoders
from experiments.configs import default
from experiments.configs import methods
from experiments.configs import methods_full
from experiments.configs import methods_test
from experiments.configs import mlp
from experiments.configs import reproduce_chen2018
from experiments.configs import reproduce_chen2018_cpu
from experiments.configs import reproduce_locatello2019
from experiments.configs import reproduce_locatello2019_cpu
from experiments.configs import sweep_beta
from experiments.configs import sweep_full
from experiments.configs import sweep_test
from experiments.configs import test
from vae import settings
from vae.errors import UserInputError
from vae.methods import beta_tcvae

_CONFIGS = (test, sweep_test, default, sweep_beta, sweep_full, autoencoders, mlp, methods,
            methods_full, methods_test, reproduce_chen2018, reproduce_chen2018_cpu,
            reproduce_locatello2019, reproduce_locatello2019_cpu)


@pytest.mark.parametrize('module', _CONFIGS, ids=lambda m: m.__name__.rsplit('.', 1)[-1])
def test_shipped_configs_pass(module):
  settings.check_config(module.get_config())


def _with(config, name, value):
  """`config` with `name` (dotted when nested) set to `value` of any type, as a config file can."""
  fields = config.to_dict()
  *parents, leaf = name.split('.')
  node = fields
  for parent in parents:
    node = node[parent]
  node[leaf] = value
  return ml_collections.ConfigDict(fields)


@pytest.mark.parametrize('name,value,message', [
    ('seed', -1, f'--config.seed=-1 must be an integer in [0, {2**32 - 1}]'),
    ('seed', 2**32, f'--config.seed={2**32} must be an integer in [0, {2**32 - 1}]'),
    ('seed', 2**63 - 1, f'--config.seed={2**63 - 1} must be an integer in'),
    ('seed', 1.5, '--config.seed=1.5 must be an integer in'),
    ('fixed_logvar', math.nan, '--config.fixed_logvar=nan must be a finite number'),
    ('fixed_logvar', -math.inf, '--config.fixed_logvar=-inf must be a finite number'),
    ('learning_rate', math.inf, '--config.learning_rate=inf must be a finite number > 0'),
    ('learning_rate', 0.0, '--config.learning_rate=0.0 must be a finite number > 0'),
    ('beta', math.nan, '--config.beta=nan must be >= 0'),
    ('beta', -1.0, '--config.beta=-1.0 must be >= 0'),
    ('gamma', -1.0, '--config.gamma=-1.0 must be >= 0'),
    ('lambda_od', -0.5, '--config.lambda_od=-0.5 must be >= 0'),
    ('capacity_max', -5.0, '--config.capacity_max=-5.0 must be >= 0'),
    ('lambda_d_factor_i', -1.0, '--config.lambda_d_factor_i=-1.0 must be >= 0'),
    ('annealed_gamma', math.inf, '--config.annealed_gamma=inf must be a finite number >= 0'),
    ('annealed_steps', 0, '--config.annealed_steps=0 must be a positive integer'),
    ('discriminator_learning_rate', 0.0,
     '--config.discriminator_learning_rate=0.0 must be a finite number > 0'),
    ('discriminator_hidden', 0, '--config.discriminator_hidden=0 must be a positive integer'),
    ('num_importance_samples', 0, '--config.num_importance_samples=0 must be a positive integer'),
    ('num_importance_samples', -3, '--config.num_importance_samples=-3 must be a positive'),
    ('importance_chunk_size', 0, '--config.importance_chunk_size=0 must be a positive integer'),
    ('dataset_size', -1, '--config.dataset_size=-1 must be an integer >= 0'),
    ('method', 'vq_vae', "unknown method 'vq_vae' (--config.method); allowed: ae, sparse_ae,"),
    ('tc_estimator', 'exact', "unknown tc_estimator 'exact' (--config.tc_estimator); allowed: "
     'mws, mss'),
    ('sparsity_weight', math.inf, '--config.sparsity_weight=inf must be a finite number >= 0'),
    ('sparsity_target', math.nan, '--config.sparsity_target=nan must be in (0, 1)'),
    ('noise_std', math.nan, '--config.noise_std=nan must be a finite number >= 0'),
    ('noise_std', math.inf, '--config.noise_std=inf must be a finite number >= 0'),
    ('drop_probability', math.nan, '--config.drop_probability=nan must be in [0, 1)'),
    ('drop_probability', 1.0, '--config.drop_probability=1.0 must be in [0, 1)'),
    ('contractive_weight', math.inf, '--config.contractive_weight=inf must be a finite number'),
    ('values_per_latent', 1, '--config.values_per_latent=1 must be an integer >= 2'),
    ('correlated_factors', 'shape:size:0.1', "--config.correlated_factors='shape:size:0.1': no "
     "factor 'size'"),
    ('gradient_clip', 0.0, '--config.gradient_clip=0.0 must be a finite number > 0'),
    ('weight_decay', -0.1, '--config.weight_decay=-0.1 must be a finite number >= 0'),
    ('quantization_weight', -1.0, '--config.quantization_weight=-1.0 must be >= 0'),
    ('beta', '4', "--config.beta='4' must be >= 0"),
    ('seed', '0', "--config.seed='0' must be an integer in"),
    ('latents', 2.5, '--config.latents=2.5 must be a positive integer'),
    ('latents', True, '--config.latents=True must be a positive integer'),
    ('latents', 1025, '--config.latents=1025 must be at most 1024 (one logged kl_per_dim/i and '
     'one traversal row per latent)'),
    ('batch_size', 0, '--config.batch_size=0 must be a positive integer'),
    ('num_probes', 1.5, '--config.num_probes=1.5 must be a positive integer'),
    ('likelihood', 'poisson', "unknown likelihood 'poisson' (--config.likelihood); allowed:"),
    ('dataset', 'cifar', "unknown dataset 'cifar' (--config.dataset); allowed:"),
    ('conv_impl', 'cudnn', "unknown conv_impl 'cudnn' (--config.conv_impl); allowed: auto, "
     'matmul, xla'),
    ('disentanglement.num_train', 0, '--config.disentanglement.num_train=0 must be an integer >= '
     '20 (MIG, modularity, the unsupervised scores and the MIG variants histogram the codes '
     'into 20 bins)'),
    ('disentanglement.num_train', 19, '--config.disentanglement.num_train=19 must be an integer'),
    ('disentanglement.num_test', 1, '--config.disentanglement.num_test=1 must be an integer >= 2'),
    ('disentanglement.representations', 'sampled',
     "--config.disentanglement.representations='sampled' must be 'mean' or 'mean,sampled'"),
    ('disentanglement.sampled_num_eval', -3,
     '--config.disentanglement.sampled_num_eval=-3 must be a positive integer'),
    ('disentanglement.sampled_num_train', 2.5,
     '--config.disentanglement.sampled_num_train=2.5 must be a positive integer'),
    ('disentanglement.encode_batch_size', 0,
     '--config.disentanglement.encode_batch_size=0 must be a positive integer'),
    ('disentanglement.sampled_batch_size', 1,
     '--config.disentanglement.sampled_batch_size=1 must be an integer >= 2'),
    ('disentanglement.num_variance_estimate', 1,
     '--config.disentanglement.num_variance_estimate=1 must be an integer >= 2'),
    ('disentanglement.chen_mig', 'yes',
     "--config.disentanglement.chen_mig='yes': expected true or false"),
    ('disentanglement.skip_metrics', 'sap,udr',
     "unknown skip_metrics 'udr' (--config.disentanglement.skip_metrics); allowed: active_units, "
     'mig,'),
    ('disentanglement.skip_metrics', 3,
     '--config.disentanglement.skip_metrics=3 must be a comma list of metric names'),
    ('disentanglement.aggregate_samples', 0,
     '--config.disentanglement.aggregate_samples=0 must be a positive integer'),
    ('model', 'resnet', "unknown model 'resnet' (--config.model); allowed: conv, mlp, chen_mlp"),
])
def test_bad_setting_names_itself(name, value, message):
  config = _with(test.get_config(), name, value)
  with pytest.raises(UserInputError) as error:
    settings.check_config(config)
  assert str(error.value).startswith(message)
  assert '\n' not in str(error.value)


@pytest.mark.parametrize('name,value,message', [
    ('num_seeds', 0, '--config.num_seeds=0 must be a positive integer'),
    ('models_per_step', -1, "--config.models_per_step=-1 must be a positive integer or 'auto'"),
    ('models_per_step', 'most', "--config.models_per_step='most' must be a positive integer or 'auto'"),
    ('betas', '1,x', "--config.betas='1,x' must be comma-separated numbers"),
    ('betas', '1,nan', "--config.betas='1,nan' must list one or more β >= 0"),
    ('betas', '-1', "--config.betas='-1' must list one or more β >= 0"),
    ('strengths', '1,-2', "--config.strengths='1,-2' must list one or more beta >= 0"),
    ('method', 'ae', '--config.method=ae has no strength to sweep; allowed: vae, beta_vae,'),
])
def test_bad_sweep_setting_names_itself(name, value, message):
  config = _with(sweep_test.get_config(), name, value)
  with pytest.raises(UserInputError, match='^' + message.replace('(', r'\(').replace('[', r'\[')):
    settings.check_config(config)


def test_last_seed_of_a_sweep_must_be_in_range():
  config = sweep_test.get_config()
  config.seed, config.num_seeds = 2**32 - 3, 3
  settings.check_config(config)  # Seeds 2**32 - 3 .. 2**32 - 1.
  config.num_seeds = 4
  with pytest.raises(UserInputError, match=rf'^--config.seed={2**32 - 3} with '
                                           r'--config.num_seeds=4 must keep the last seed'):
    settings.check_config(config)


def test_largest_seed_and_diverging_beta_are_allowed():
  config = test.get_config()
  config.seed, config.beta = 2**32 - 1, math.inf  # β = inf: a sweep member meant to diverge.
  settings.check_config(config)
  config = sweep_test.get_config()
  config.betas = '1,inf'
  settings.check_config(config)


def test_smallest_disentanglement_sizes_are_allowed():
  config = test.get_config()
  config.disentanglement = default.disentanglement_config(
      num_train=20, num_test=2, sampled_batch_size=2, sampled_num_train=1, sampled_num_eval=1,
      num_variance_estimate=2)
  config.disentanglement.encode_batch_size = 1
  settings.check_config(config)


def test_comparison_test_seed_is_checked():
  config = autoencoders.get_config()
  config.test_seed = -5
  with pytest.raises(UserInputError, match=r'^--config.test_seed=-5 must be an integer in'):
    settings.check_config(config)


def test_checks_of_the_objective_still_apply():
  config = test.get_config()
  config.method = 'pca'
  with pytest.raises(UserInputError, match=r"^unknown method 'pca' \(--config.method\)"):
    settings.check_config(config)


def test_sweep_strengths_are_given_or_the_studys():
  config = sweep_test.get_config()
  assert settings.sweep_strengths(config) == (1.0, 8.0)  # --config.betas for a β method.
  config.strengths = '3,0.5'
  assert settings.sweep_strengths(config) == (0.5, 3.0)
  config.method, config.strengths = 'factor_vae', ''
  assert settings.sweep_strengths(config) == (10, 20, 30, 40, 50, 100)  # Locatello et al. 2019.
  config.method = 'annealed_vae'
  assert settings.sweep_strengths(config) == (5, 10, 25, 50, 75, 100)


def test_beta_tcvae_needs_the_dataset_size():
  config = test.get_config()
  config.method = 'beta_tcvae'
  with pytest.raises(UserInputError, match=r"^--config.method=beta_tcvae needs the number of "
                     r"training examples and --config.dataset=procedural_dsprites does not know "
                     r"it: set --config.dataset_size$"):
    beta_tcvae.dataset_size(config, None)
  assert beta_tcvae.dataset_size(config, 737_280) == 737_280
  config.dataset_size = 1000
  assert beta_tcvae.dataset_size(config, None) == beta_tcvae.dataset_size(config, 5) == 1000


def test_whole_grid_quantities_need_a_grid_rendered_one_way():
  config = _with(test.get_config(), 'disentanglement.elbo_decomposition', True)
  settings.check_config(config)  # Procedural dSprites renders each tuple one way.
  config.dataset = 'noisy_dsprites'  # Its noise depends on the batch: no table of the grid.
  with pytest.raises(UserInputError, match=r'^--config.disentanglement.elbo_decomposition=true '
                     r'needs a source that renders its whole factor grid in-graph, each tuple '
                     r'one way \(procedural_dsprites\); --config.dataset=noisy_dsprites does not$'):
    settings.check_config(config)
