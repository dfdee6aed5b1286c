"""The whole disentanglement suite on one trained model, on its mean and sampled codes.

`evaluate_state` scores a VAE's mean representation E_q[z|x] and a sampled one z ~ q(z|x) with
every metric (Locatello et al. 2019's choice of both) and flattens the results to one dict per
representation. Keys are each metric's own, except the two classifier scores whose
`train_accuracy`/`eval_accuracy` would collide: those carry `beta_vae_` / `factor_vae_` prefixes.
"""

import hashlib
import itertools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from vae import distributions
from vae import files
from vae import models
from vae import run_state
from vae import train
from vae.evaluation import active_units
from vae.evaluation import dci
from vae.evaluation import mig
from vae.evaluation import modularity
from vae.evaluation import sampled_scores
from vae.evaluation import sap
from vae.evaluation import unsupervised

RESULT_FILE = 'eval_disentanglement.json'
REPRESENTATIONS = ('mean', 'sampled')


def _fixed_shape(fn, batch_size):
  """`fn` applied in chunks of exactly `batch_size` rows (the last one padded): one compile."""

  def apply(x):
    x = np.asarray(x)
    outputs = []
    for start in range(0, len(x), batch_size):
      chunk = x[start:start + batch_size]
      padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk), *x.shape[1:]), x.dtype)])
      outputs.append(np.asarray(fn(padded))[:len(chunk)])
    return np.concatenate(outputs)

  return apply


def _encoders(state, key, batch_size):
  """{'mean': x -> E_q[z|x], 'sampled': x -> z ~ q(z|x)} sharing one cached encoder pass.

  Both representations are scored on the same observations (the same keys), so each array of
  observations goes through the encoder once; the sampled codes add σ·ε with ε from `key`.
  """
  variables = {'params': state.params}
  encode = _fixed_shape(jax.jit(lambda x: jnp.concatenate(
      state.model.apply(variables, x, method=models.VAE.encode), axis=-1)), batch_size)
  cache = {}

  def posterior(x):
    x = np.ascontiguousarray(x)
    digest = hashlib.blake2b(x.tobytes(), digest_size=16).digest() + repr(x.shape).encode()
    if digest not in cache:
      cache[digest] = np.split(encode(x), 2, axis=-1)
    return cache[digest]

  calls = itertools.count()  # Every sampled call draws fresh noise from its own key.

  def sampled(x):
    mean, logvar = posterior(x)
    eps = jax.random.normal(jax.random.fold_in(key, next(calls)), mean.shape)
    return np.asarray(distributions.sample_from_noise(mean, logvar, eps))

  return {'mean': lambda x: posterior(x)[0], 'sampled': sampled}


def _codes_and_factors(dataset, encode_fn, key, num_points):
  observations, factors = dataset.sample_with_factors(key, num_points)
  return np.asarray(encode_fn(observations)), np.asarray(factors)


def _prefixed(prefix, scores):
  return {f'{prefix}_{name}': value for name, value in scores.items()}


def evaluate_representation(dataset, encode_fn, key, sizes):
  """Every score of one representation `encode_fn` (a flat dict of floats)."""
  train_key, test_key, beta_key, factor_key = jax.random.split(key, 4)
  codes_train, factors_train = _codes_and_factors(dataset, encode_fn, train_key, sizes.num_train)
  codes_test, factors_test = _codes_and_factors(dataset, encode_fn, test_key, sizes.num_test)
  split = (codes_train, factors_train, codes_test, factors_test)
  scores = {**active_units.active_units(codes_train),
            **mig.mig(codes_train, factors_train),
            **dci.dci(*split),
            **sap.sap(*split),
            **modularity.modularity_explicitness(*split),
            **unsupervised.unsupervised(codes_train)}
  scores.update(_prefixed('beta_vae', sampled_scores.beta_vae_score(
      dataset, encode_fn, beta_key, sizes.sampled_batch_size, sizes.sampled_num_train,
      sizes.sampled_num_eval)))
  scores.update(_prefixed('factor_vae', sampled_scores.factor_vae_score(
      dataset, encode_fn, factor_key, sizes.sampled_batch_size, sizes.sampled_num_train,
      sizes.sampled_num_eval, sizes.num_variance_estimate)))
  return {name: float(value) for name, value in scores.items()}


def evaluate_state(state, dataset, key, sizes):
  """{'mean': scores, 'sampled': scores, 'sizes': ..., 'seconds': ...} for one model.

  `sizes.representations` (default both) says which representations are scored; the mean one is
  always among them, as the summaries read it.
  """
  start = time.perf_counter()
  representation_key, noise_key = jax.random.split(key)
  scored = sizes.get('representations', ','.join(REPRESENTATIONS)).split(',')
  results = {name: evaluate_representation(dataset, encode_fn, representation_key, sizes)
             for name, encode_fn in _encoders(state, noise_key, sizes.encode_batch_size).items()
             if name in scored}
  results['sizes'] = sizes.to_dict()
  results['seconds'] = time.perf_counter() - start
  return results


def write_scores(workdir, config, dataset, state, sizes=None):
  """Scores `state` (the model of `config`) and writes `workdir/eval_disentanglement.json`,
  with the final eval row's `elbo`, `log_px` and `elbo_gap` under `likelihood` when it has them."""
  sizes = sizes or config.disentanglement
  results = evaluate_state(state, dataset, train.named_keys(config.seed)['disentanglement'],
                           sizes)
  results['step'] = int(state.step)
  # The final evaluation's log p(x) beside the scores, so this one file describes the model.
  row = run_state.final_eval_row(workdir, results['step']) or {}
  if 'log_px' in row:
    results['likelihood'] = {name: row[name] for name in ('elbo', 'log_px', 'elbo_gap')}
  files.write_json_atomic(os.path.join(workdir, RESULT_FILE), results)
  return results


def evaluate_run(workdir, sizes=None):
  """Scores the model saved in `workdir` (its newest intact checkpoint), holding its lock."""
  run_state.read_config(workdir)  # A directory without a model is a one-line error, not a lock.
  lock = files.DirectoryLock(workdir)
  try:
    config, dataset, state = run_state.restore_run(workdir)
    return write_scores(workdir, config, dataset, state, sizes)
  finally:
    lock.release()
