"""The whole disentanglement suite on one trained model, on its mean and sampled codes.

`evaluate_state` scores a VAE's mean representation E_q[z|x] and a sampled one z ~ q(z|x) with
every metric (Locatello et al. 2019's choice of both) and flattens the results to one dict per
representation. Keys are each metric's own, except the two classifier scores whose
`train_accuracy`/`eval_accuracy` would collide: those carry `beta_vae_` / `factor_vae_` prefixes.
Beside them: `factor_latent` (which latents carry which factor, `vae.evaluation.factor_latent`,
of the mean codes) and, where `sizes.chen_mig` / `sizes.elbo_decomposition` ask for them,
`aggregate_posterior`: Chen et al. 2018's MIG and ELBO decomposition over the whole factor grid.
"""

import dataclasses
import os
import time
from typing import Any

import jax

from vae import distributions
from vae import files
from vae import models
from vae import plotting
from vae import settings
from vae.evaluation import active_units
from vae.evaluation import aggregate_posterior
from vae.evaluation import dci
from vae.evaluation import factor_latent
from vae.evaluation import mig
from vae.evaluation import modularity
from vae.evaluation import sampled_scores
from vae.evaluation import sap
from vae.evaluation import unsupervised
from vae.training import run_directory
from vae.training import train

RESULT_FILE = 'eval_disentanglement.json'
FACTOR_LATENT_FILE = 'factor_latent.md'
REPRESENTATIONS = ('mean', 'sampled')


@dataclasses.dataclass(frozen=True)
class _Posterior:
  """(params, x) -> (mean, logvar) of q(z|x): the encoder pass every representation shares.

  Hashable by value (flax modules are), so models of one architecture share the jitted programs
  of the sampled scores: a second model compiles nothing.
  """
  model: Any

  def __call__(self, params, x):
    return self.model.apply({'params': params}, x, method=models.VAE.encode)


@dataclasses.dataclass(frozen=True)
class _Representations:
  """((mean, logvar), key) -> {name: codes} of `names` among 'mean' (E_q[z|x]) and 'sampled'
  (z ~ q(z|x), ε from `key`)."""
  names: tuple

  def __call__(self, posterior, key):
    mean, logvar = posterior
    codes = {'mean': mean}
    if 'sampled' in self.names:
      eps = jax.random.normal(key, mean.shape, mean.dtype)
      codes['sampled'] = distributions.sample_from_noise(mean, logvar, eps)
    return {name: codes[name] for name in self.names}


def _encoder(state, names):
  """The model's jittable encoder of the representations `names` (a tuple)."""
  return sampled_scores.PureEncoder(_Posterior(state.model), _Representations(names),
                                    state.params)


def whole_grid(sizes):
  """Whether `sizes` asks for a quantity of the whole factor grid (Chen et al. 2018's)."""
  return any(sizes.get(name, False) for name in aggregate_posterior.WHOLE_GRID_SCORES)


def tabulates(dataset, sizes):
  """Whether the suite encodes every grid point once (`sampled_scores.tabulated`) and looks the
  points up: where the dataset allows it and either the whole grid is needed anyway or it is
  fewer encoder passes than the points'."""
  return sampled_scores.can_tabulate(dataset) and (
      whole_grid(sizes) or observations_to_encode(sizes) > dataset.num_combinations)


def observations_to_encode(sizes):
  """How many observations the suite encodes at `sizes` without a table of the grid."""
  points = sizes.sampled_num_train + sizes.sampled_num_eval
  # BetaVAE: a batch of pairs per point; FactorVAE: a batch per point and the variance estimate.
  return (sizes.num_train + sizes.num_test + 3 * sizes.sampled_batch_size * points
          + sizes.num_variance_estimate)


def _aggregate_posterior_scores(dataset, table, key, sizes):
  """Chen et al. 2018's whole-grid quantities that `sizes` asks for, from the grid's posterior
  statistics `table` (means, logvars)."""
  means, logvars = table
  samples = sizes.get('aggregate_samples', aggregate_posterior.NUM_SAMPLES)
  mig_key, decomposition_key = jax.random.split(key)
  scores = {}
  if sizes.get('chen_mig', False):
    scores.update(aggregate_posterior.chen_mig(mig_key, means, logvars, dataset.factor_names,
                                               dataset.factor_sizes, samples))
  if sizes.get('elbo_decomposition', False):
    scores.update(aggregate_posterior.elbo_decomposition(decomposition_key, means, logvars,
                                                         samples))
  return scores


def _prefixed(prefix, scores):
  return {f'{prefix}_{name}': value for name, value in scores.items()}


class _Stopwatch:
  """Wall seconds per named stage, summed over the stage's calls."""

  def __init__(self):
    self.seconds = {}

  def __call__(self, name, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
    return result


def _array_scores(codes_train, factors_train, codes_test, factors_test, timed):
  """The scores of one representation's codes of the train and test points (a flat dict)."""
  split = (codes_train, factors_train, codes_test, factors_test)
  return {**timed('active_units', active_units.active_units, codes_train),
          **timed('mig', mig.mig, codes_train, factors_train),
          **timed('sap', sap.sap, *split),
          **timed('modularity', modularity.modularity_explicitness, *split),
          **timed('unsupervised', unsupervised.unsupervised, codes_train)}


def evaluate_representations(dataset, encoder, key, noise_key, sizes, timed=None):
  """{name: every score (a flat dict of floats)} of each representation of `encoder`.

  Every representation is scored on the same observations, each set encoded once; `noise_key`
  feeds the sampled representation's noise. `timed` (a `_Stopwatch`) collects the seconds of
  each stage.
  """
  timed = timed or _Stopwatch()
  train_key, test_key, beta_key, factor_key = jax.random.split(key, 4)
  noise = jax.random.split(noise_key, 4)
  # Observations encoded per step of the in-graph pass: throughput only, not the codes.
  per_step = {'observations_per_step': sizes.encode_batch_size}
  factor_names, table, aggregate = dataset.factor_names, None, {}
  if whole_grid(sizes):
    table = timed('encoding', sampled_scores.grid_statistics, dataset, encoder, **per_step)
    aggregate = timed('aggregate_posterior', _aggregate_posterior_scores, dataset, table,
                      jax.random.fold_in(noise_key, len(noise)), sizes)
  if tabulates(dataset, sizes):
    dataset, encoder = timed('encoding', sampled_scores.tabulated, dataset, encoder, table=table,
                             **per_step)
  codes_train, factors_train = timed('encoding', sampled_scores.codes_and_factors, dataset,
                                     encoder, train_key, noise[0], sizes.num_train, **per_step)
  codes_test, factors_test = timed('encoding', sampled_scores.codes_and_factors, dataset,
                                   encoder, test_key, noise[1], sizes.num_test, **per_step)
  beta = timed('beta_vae', sampled_scores.beta_vae_scores, dataset, encoder, beta_key, noise[2],
               sizes.sampled_batch_size, sizes.sampled_num_train, sizes.sampled_num_eval,
               **per_step)
  factor = timed('factor_vae', sampled_scores.factor_vae_scores, dataset, encoder, factor_key,
                 noise[3], sizes.sampled_batch_size, sizes.sampled_num_train,
                 sizes.sampled_num_eval, sizes.num_variance_estimate, **per_step)
  dci_scores = timed('dci', dci.dci_of_each, codes_train, factors_train, codes_test,
                     factors_test)
  results = {}
  for name in codes_train:
    scores = _array_scores(codes_train[name], factors_train, codes_test[name], factors_test,
                           timed)
    scores.update(dci_scores[name])
    scores.update(_prefixed('beta_vae', beta[name]))
    scores.update(_prefixed('factor_vae', factor[name]))
    results[name] = {score: float(value) for score, value in scores.items()}
  results['factor_latent'] = timed('factor_latent', factor_latent.factor_latent,
                                   codes_train['mean'], factors_train, factor_names)
  if aggregate:
    results['aggregate_posterior'] = aggregate
  return results


def evaluate_state(state, dataset, key, sizes):
  """{'mean': scores, 'sampled': scores, 'sizes', 'grid_tabulated', 'seconds', 'stage_seconds'}
  for one model.

  `sizes.representations` (default both) says which representations are scored; the mean one is
  always among them, as the summaries read it. `stage_seconds` is the wall time of each metric
  (BetaVAE and FactorVAE include their own rendering and encoding; `encoding` is the train and
  test points'), summed over the representations.
  """
  start = time.perf_counter()
  representation_key, noise_key = jax.random.split(key)
  scored = sizes.get('representations', ','.join(REPRESENTATIONS)).split(',')
  names = tuple(name for name in REPRESENTATIONS if name in scored)
  timed = _Stopwatch()
  results = evaluate_representations(dataset, _encoder(state, names), representation_key,
                                     noise_key, sizes, timed)
  results['sizes'] = sizes.to_dict()
  results['grid_tabulated'] = tabulates(dataset, sizes)
  results['seconds'] = time.perf_counter() - start
  results['stage_seconds'] = timed.seconds
  return results


def write_scores(workdir, config, dataset, state, sizes=None):
  """Scores `state` (the model of `config`) and writes `workdir/eval_disentanglement.json`,
  with the final eval row's `elbo`, `log_px` and `elbo_gap` under `likelihood` when it has them."""
  sizes = sizes or config.disentanglement
  results = evaluate_state(state, dataset, train.named_keys(config.seed)['disentanglement'],
                           sizes)
  results['step'] = int(state.step)
  # The final evaluation's log p(x) beside the scores, so this one file describes the model.
  row = run_directory.final_eval_row(workdir, results['step']) or {}
  if 'log_px' in row:
    results['likelihood'] = {name: row[name] for name in ('elbo', 'log_px', 'elbo_gap')}
  plotting.save_factor_latent(os.path.join(workdir, 'figures', 'factor_latent.png'),
                              results['factor_latent'])
  files.write_atomic(os.path.join(workdir, FACTOR_LATENT_FILE),
                     factor_latent.markdown(results['factor_latent']))
  files.write_json_atomic(os.path.join(workdir, RESULT_FILE), results)
  return results


def evaluate_run(workdir, sizes=None, **overrides):
  """Scores the model saved in `workdir` (its newest intact checkpoint), holding its lock.

  `overrides` replace entries of the sample sizes (the run's own `config.disentanglement`
  unless `sizes` is given), e.g. `chen_mig=True` to add Chen et al.'s MIG to a finished run.
  """
  run_directory.read_config(workdir)  # A directory without a model is a one-line error, not a lock.
  lock = files.DirectoryLock(workdir)
  try:
    config, dataset, state = run_directory.restore_run(workdir)
    sizes = (sizes or config.disentanglement).copy_and_resolve_references()
    with sizes.unlocked():
      sizes.update(overrides)
    settings.check_disentanglement(sizes, dataset, config.dataset)
    return write_scores(workdir, config, dataset, state, sizes)
  finally:
    lock.release()
