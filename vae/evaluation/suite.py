"""The whole disentanglement suite on one model, on its mean and sampled codes.

`evaluate_state` scores a VAE's mean representation E_q[z|x] and a sampled one z ~ q(z|x)
(Locatello et al. 2019's choice of both) with every metric of `vae.evaluation.registry`, in its
order, and gathers their keys (unique across the registry) into one flat dict per
representation. Beside them: `factor_latent` (which latents carry which factor,
`vae.evaluation.factor_latent`, of the mean codes) and, where `sizes.chen_mig` /
`sizes.elbo_decomposition` ask for them, `aggregate_posterior`: Chen et al. 2018's MIG and ELBO
decomposition over the whole factor grid. `vae.evaluation.model_evaluation` writes them.
"""

import dataclasses
import time
from typing import Any

import jax

from vae import distributions
from vae import models
from vae import preemption
from vae.evaluation import aggregate_posterior
from vae.evaluation import factor_latent
from vae.evaluation import metric
from vae.evaluation import registry
from vae.evaluation import sampled_scores

RESULT_FILE = 'eval_disentanglement.json'
FACTOR_LATENT_FILE = 'factor_latent.md'
REPRESENTATIONS = ('mean', 'sampled')
# The whole-grid quantities' noise: `fold_in(noise_key, 4)`, which is also the noise key's fifth
# split. With streams 0 and 1 (the train and test points) it is the suite's own; each metric that
# draws names another stream.
_AGGREGATE_NOISE = 4
_OWN_STREAMS = (0, 1, _AGGREGATE_NOISE)
_STREAMS = 1 + max([1] + [m.stream for m in registry.METRICS if m.stream is not None])
for _metric in registry.METRICS:
  if _metric.stream in _OWN_STREAMS:
    raise ValueError(f'metric {_metric.name!r} draws from stream {_metric.stream}, one of the '
                     f"suite's own {_OWN_STREAMS}")


@dataclasses.dataclass(frozen=True)
class _Posterior:
  """(params, x) -> (mean, logvar) of q(z|x): the encoder pass every representation shares.

  Hashable by value (flax modules are), so models of one architecture share the jitted programs
  of the sampled scores: a second model compiles nothing.
  """
  model: Any

  def __call__(self, params, x):
    method = (models.Autoencoder.posterior if isinstance(self.model, models.Autoencoder)
              else models.VAE.encode)
    return self.model.apply({'params': params}, x, method=method)


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


def encoder(state, names):
  """The model's jittable encoder of the representations `names` (a tuple)."""
  return sampled_scores.PureEncoder(_Posterior(state.model), _Representations(names),
                                    state.params)


def whole_grid(sizes):
  """Whether `sizes` asks for a quantity of the whole factor grid (Chen et al. 2018's)."""
  return any(sizes.get(name, False) for name in aggregate_posterior.WHOLE_GRID_SCORES)


def skipped(sizes):
  """The registry's metrics that `sizes.skip_metrics` (a comma list of metric names) leaves out,
  in registry order: a CPU-sized run may skip the slow ones; its summary says which."""
  names = set(filter(None, sizes.get('skip_metrics', '').split(',')))
  return tuple(m.name for m in registry.METRICS if m.name in names)


def tabulates(dataset, sizes):
  """Whether the suite encodes every grid point once (`sampled_scores.tabulated`) and looks the
  points up: where the dataset allows it and either the whole grid is needed anyway or it is
  fewer encoder passes than the points'."""
  return sampled_scores.can_tabulate(dataset) and (
      whole_grid(sizes) or observations_to_encode(sizes) > dataset.num_combinations)


def observations_to_encode(sizes):
  """How many observations the suite encodes at `sizes` without a table of the grid: the train
  and test points, and what each metric that is not skipped draws."""
  left_out = skipped(sizes)
  return sizes.num_train + sizes.num_test + sum(
      m.observations(sizes) for m in registry.METRICS if m.observations and m.name not in left_out)


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


class _Stopwatch:
  """Wall seconds per named stage, summed over the stage's calls."""

  def __init__(self):
    self.seconds = {}

  def __call__(self, name, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
    return result


def _gathered(metrics, inputs, timed):
  """{representation: every metric's scores (floats)}, the metrics in order, each timed."""
  results = {name: {} for name in inputs.codes_train}
  for m in metrics:
    preemption.stop_point(f'scoring {m.name}')
    scores = timed(m.name, m.score, inputs)
    for name, values in results.items():
      if set(scores[name]) != set(m.keys):
        raise RuntimeError(f'metric {m.name!r} wrote {sorted(scores[name])}, not its declared '
                           f'keys {sorted(m.keys)}')
      values.update({key: float(value) for key, value in scores[name].items()})
  return results


def evaluate_representations(dataset, encoder, key, noise_key, sizes, timed=None,
                             metrics=registry.METRICS, discrete_codes=False):
  """{name: every score (a flat dict of floats)} of each representation of `encoder`.

  Every representation is scored on the same observations, each set encoded once; `noise_key`
  feeds the sampled representation's noise. The metrics `skipped(sizes)` names are left out.
  `timed` (a `_Stopwatch`) collects the seconds of each stage. `discrete_codes`: the mean
  representation takes a few values per latent (a quantized code), for metrics that estimate
  differently then.
  """
  timed = timed or _Stopwatch()
  keys, noise = jax.random.split(key, _STREAMS), jax.random.split(noise_key, _STREAMS)
  # Observations encoded per step of the in-graph pass: throughput only, not the codes.
  per_step = {'observations_per_step': sizes.encode_batch_size}
  factor_names, table, aggregate = dataset.factor_names, None, {}
  if whole_grid(sizes):
    table = timed('encoding', sampled_scores.grid_statistics, dataset, encoder, **per_step)
    aggregate = timed('aggregate_posterior', _aggregate_posterior_scores, dataset, table,
                      jax.random.fold_in(noise_key, _AGGREGATE_NOISE), sizes)
  if tabulates(dataset, sizes):
    dataset, encoder = timed('encoding', sampled_scores.tabulated, dataset, encoder, table=table,
                             **per_step)
  codes_train, factors_train = timed('encoding', sampled_scores.codes_and_factors, dataset,
                                     encoder, keys[0], noise[0], sizes.num_train, **per_step)
  codes_test, factors_test = timed('encoding', sampled_scores.codes_and_factors, dataset,
                                   encoder, keys[1], noise[1], sizes.num_test, **per_step)
  inputs = metric.Inputs(dataset, encoder, codes_train, factors_train, codes_test, factors_test,
                         sizes, tuple(keys), tuple(noise), sizes.encode_batch_size,
                         discrete_codes)
  left_out = skipped(sizes)
  results = _gathered([m for m in metrics if m.name not in left_out], inputs, timed)
  results['factor_latent'] = timed('factor_latent', factor_latent.factor_latent,
                                   codes_train['mean'], factors_train, factor_names)
  if aggregate:
    results['aggregate_posterior'] = aggregate
  return results


def evaluate_state(state, dataset, key, sizes):
  """{'mean': scores, 'sampled': scores, 'sizes', 'skipped_metrics', 'grid_tabulated', 'seconds',
  'stage_seconds'} for one model.

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
  quantized = bool(getattr(state.model, 'values_per_latent', None))
  results = evaluate_representations(dataset, encoder(state, names), representation_key,
                                     noise_key, sizes, timed, discrete_codes=quantized)
  results['sizes'] = sizes.to_dict()
  results['skipped_metrics'] = list(skipped(sizes))
  results['grid_tabulated'] = tabulates(dataset, sizes)
  results['seconds'] = time.perf_counter() - start
  results['stage_seconds'] = timed.seconds
  return results
