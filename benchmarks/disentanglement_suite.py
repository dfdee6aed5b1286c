"""Times the disentanglement metrics at disentanglement_lib's default sizes.

  .venv/bin/python -m benchmarks.disentanglement_suite
  .venv/bin/python -m benchmarks.disentanglement_suite --compare_dci

Data: procedural-dSprites factors (sizes 3, 6, 40, 32, 32) and 10 codes that
are noisy functions of them (5 monotone, 3 periodic, 2 pure noise), so every
classifier has real work; 10,000 training and 5,000 test points. BetaVAE and
FactorVAE sample the same factor grid and encode with the same function, through
the suite's in-graph path (`beta_vae_score.beta_vae_scores`, `factor_vae_score.factor_vae_scores`).

``--compare_dci`` fits DCI's importance matrix with both backends on the
same data and prints their difference next to two noise floors of the fast
backend: another tie-breaking seed, and an independent training sample.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from vae.data import dsprites
from vae.data.ground_truth import GroundTruthDataset
from vae.evaluation import beta_vae_score
from vae.evaluation import dci
from vae.evaluation import factor_vae_score
from vae.evaluation import mig
from vae.evaluation import modularity
from vae.evaluation import sampled_scores
from vae.evaluation import sap
from vae.evaluation import unsupervised

FACTOR_SIZES = dsprites.FACTOR_SIZES
NOISE_SCALE = 0.1
# A fixed projection whose high-frequency sine serves as deterministic noise.
_NOISE_PROJECTION = np.random.default_rng(1234).normal(size=(len(FACTOR_SIZES), 10))


def observations_from_factors(factors):
  """Factor indices scaled to [0, 1]: the synthetic 'images' (pure JAX)."""
  return jnp.asarray(factors, jnp.float32) / (jnp.asarray(FACTOR_SIZES) - 1)


def encode(observations):
  """Ten codes: noisy monotone and periodic functions of the factors, two of noise (pure JAX)."""
  u = jnp.asarray(observations, jnp.float32)
  noise = jnp.sin(1e3 * u @ _NOISE_PROJECTION)
  signal = jnp.concatenate([jnp.tanh(3.0 * (u - 0.5)), jnp.sin(jnp.pi * u[:, 2:]), noise[:, 8:]],
                           axis=1)
  return signal + NOISE_SCALE * noise


def _statistics(params, observations):
  del params
  return encode(observations)


def _mean(codes, key):
  del key
  return {'mean': codes}


# The synthetic encoder as the suite drives a model's: jitted, in graph, one representation.
ENCODER = sampled_scores.PureEncoder(_statistics, _mean, None)


def synthetic_dataset():
  """The procedural-dSprites factor grid with the synthetic observations."""
  return GroundTruthDataset(
      name='synthetic_dsprites_factors',
      factor_names=dsprites.FACTOR_NAMES,
      factor_sizes=FACTOR_SIZES,
      observation_shape=(len(FACTOR_SIZES),),
      sample_factors=dsprites.sample_factors,
      observations_from_factors=observations_from_factors,
      jittable=True)


def codes_and_factors(key, n):
  """``(codes [n, 10], factors [n, 5])`` sampled from the synthetic dataset."""
  factors = np.asarray(dsprites.sample_factors(key, n))
  return np.asarray(encode(observations_from_factors(factors)), np.float64), factors


def _timed(name, fn, times):
  """Runs ``fn``; records and prints its wall and CPU seconds and its scores."""
  # CPU time is shown too: on a shared machine wall time includes waiting.
  wall, cpu = time.perf_counter(), time.process_time()
  scores = fn()
  times[name] = (time.perf_counter() - wall, time.process_time() - cpu)
  shown = ', '.join(f'{k}={v:.4f}' for k, v in scores.items())
  print(f'{name:<24s} {times[name][0]:7.2f} s wall {times[name][1]:7.2f} s cpu'
        f'   {shown}', flush=True)
  return scores


def run_suite(args):
  """Times every metric once at the requested sizes."""
  key_train, key_test, key_beta, key_factor = jax.random.split(
      jax.random.key(args.seed), 4)
  train = codes_and_factors(key_train, args.num_train)
  test = codes_and_factors(key_test, args.num_test)
  split = train + test
  data = synthetic_dataset()
  print(f'{args.num_train} train / {args.num_test} test points, '
        f'{train[0].shape[1]} codes, factor sizes {FACTOR_SIZES}')
  times = {}
  _timed('mig', lambda: mig.mig(*train), times)
  _timed(f'dci[{args.dci_backend}]',
         lambda: dci.dci(*split, backend=args.dci_backend), times)
  _timed('sap (discrete)', lambda: sap.sap(*split), times)
  _timed('modularity_explicitness',
         lambda: modularity.modularity_explicitness(*split), times)
  _timed('unsupervised', lambda: unsupervised.unsupervised(train[0]), times)
  noise = jax.random.key(args.seed + 1)  # The encoder draws no noise: any key.
  _timed('beta_vae_score', lambda: beta_vae_score.beta_vae_scores(
      data, ENCODER, key_beta, noise, num_train=args.num_train,
      num_eval=args.num_test)['mean'], times)
  _timed('factor_vae_score', lambda: factor_vae_score.factor_vae_scores(
      data, ENCODER, key_factor, noise, num_train=args.num_train,
      num_eval=args.num_test, num_variance_estimate=args.num_train)['mean'], times)
  wall, cpu = np.sum(list(times.values()), axis=0)
  print(f'{"total":<24s} {wall:7.2f} s wall {cpu:7.2f} s cpu')


def _dci_row(name, importance, train_acc, test_acc, seconds):
  print(f'{name:<28s} D={dci.disentanglement(importance):.4f} '
        f'C={dci.completeness(importance):.4f} I_train={np.mean(train_acc):.4f} '
        f'I_test={np.mean(test_acc):.4f}  ({seconds:.1f} s)', flush=True)


def compare_dci(args):
  """Both DCI backends on the same data, against the fast backend's own noise."""
  key_train, key_test, key_other = jax.random.split(jax.random.key(args.seed), 3)
  train = codes_and_factors(key_train, args.num_train)
  test = codes_and_factors(key_test, args.num_test)
  other = codes_and_factors(key_other, args.num_train)
  runs = {
      'hist_gbt': (train, 'hist_gbt', 0),
      'hist_gbt, seed 1': (train, 'hist_gbt', 1),
      'hist_gbt, other sample': (other, 'hist_gbt', 0),
      'sklearn_gbt (reference)': (train, 'sklearn_gbt', 0),
  }
  results = {}
  for name, (sample, backend, seed) in runs.items():
    start = time.perf_counter()
    results[name] = dci.importance_matrix(*sample, *test, backend=backend,
                                          seed=seed)
    _dci_row(name, *results[name], time.perf_counter() - start)
  fast, reference = results['hist_gbt'][0], results['sklearn_gbt (reference)'][0]
  np.set_printoptions(precision=4, suppress=True)
  print('importance, hist_gbt [codes x factors]:\n', fast)
  print('importance, sklearn_gbt:\n', reference)
  for name in ('sklearn_gbt (reference)', 'hist_gbt, seed 1',
               'hist_gbt, other sample'):
    diff = np.abs(results[name][0] - fast).max()
    print(f'max |R(hist_gbt) - R({name})| = {diff:.4f}')
  for name in ('hist_gbt', 'sklearn_gbt (reference)'):
    print(f'accuracy per factor, {name}: train {results[name][1]}, '
          f'test {results[name][2]}')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--num_train', type=int, default=10000)
  parser.add_argument('--num_test', type=int, default=5000)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--dci_backend', default='hist_gbt',
                      choices=sorted(dci.BACKENDS))
  parser.add_argument('--compare_dci', action='store_true',
                      help='compare the DCI backends instead of timing the suite')
  args = parser.parse_args()
  if args.compare_dci:
    compare_dci(args)
  else:
    run_suite(args)


if __name__ == '__main__':
  main()
