"""What a metric of the disentanglement suite declares, and the checks a registry of them passes.

A metric is a name (also its stage in the suite's timing), the keys it writes in each
representation's scores (unique across the registry: the scores are one flat dict per
representation), the least sample sizes it needs (`Least`), and a function of the `Inputs` the
suite hands every metric: `score(inputs) -> {representation: {key: value}}`. A metric that draws
from the dataset names its `stream`: the index of its (factor key, noise key) among the suite's
splits of its two keys (0, 1 and 4 are the suite's own: the train and test points and the
whole-grid quantities).
"""

import dataclasses
from typing import Any, Callable, NamedTuple


class Least(NamedTuple):
  """`config.disentanglement.<size>` must be at least `least`, because `who` `why`
  (e.g. 'MIG', 'histogram the codes into 20 bins'); `why` is empty where `least` is 1."""
  size: str
  least: int
  who: str = ''
  why: str = ''


@dataclasses.dataclass(frozen=True)
class Metric:
  """A metric of the suite: see the module docstring. `observations(sizes)` counts what it
  encodes beyond the train and test points (None: nothing)."""
  name: str
  keys: tuple
  score: Callable[['Inputs'], dict]
  least: tuple = ()
  stream: int | None = None
  observations: Callable[[Any], int] | None = None


@dataclasses.dataclass(frozen=True)
class Inputs:
  """What the suite hands every metric of one model: the dataset and the model's encoder (a
  `sampled_scores.PureEncoder`), the codes `{representation: [N, C]}` of the train and test points
  and their factors, the sample sizes, the keys of each stream and the observations per step of
  the in-graph encoder; `discrete_codes`, whether the mean representation is a quantized code
  (a few values per latent)."""
  dataset: Any
  encoder: Any
  codes_train: dict
  factors_train: Any
  codes_test: dict
  factors_test: Any
  sizes: Any
  keys: tuple
  noise_keys: tuple
  per_step: int
  discrete_codes: bool = False

  def split(self, name):
    """(codes_train, factors_train, codes_test, factors_test) of representation `name`."""
    return self.codes_train[name], self.factors_train, self.codes_test[name], self.factors_test


def of_codes(fn):
  """The metric function of `fn(codes_train)`, per representation."""
  return lambda inputs: {name: fn(codes) for name, codes in inputs.codes_train.items()}


def of_train(fn):
  """The metric function of `fn(codes_train, factors_train)`, per representation."""
  return lambda inputs: {name: fn(codes, inputs.factors_train)
                         for name, codes in inputs.codes_train.items()}


def of_split(fn):
  """The metric function of `fn(codes_train, factors_train, codes_test, factors_test)`."""
  return lambda inputs: {name: fn(*inputs.split(name)) for name in inputs.codes_train}


def histogram(who, num_bins):
  """The least `num_train` of a metric that histograms the train codes into `num_bins` bins."""
  return Least('num_train', num_bins, who, f'histogram the codes into {num_bins} bins')


def prefixed(prefix, scores):
  """{representation: {f'{prefix}_{key}': value}} of a score function's own keys."""
  return {name: {f'{prefix}_{key}': value for key, value in values.items()}
          for name, values in scores.items()}


def registry(metrics):
  """`metrics` as a tuple, after checking that no two share a name, a key or a stream."""
  seen = {}
  for metric in metrics:
    for what, values in (('name', (metric.name,)), ('key', metric.keys),
                         ('stream', () if metric.stream is None else (metric.stream,))):
      for value in values:
        if (what, value) in seen:
          raise ValueError(f'metrics {seen[what, value]!r} and {metric.name!r} share the '
                           f'{what} {value!r}')
        seen[what, value] = metric.name
  return tuple(metrics)


def _joined(names):
  return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def least_sizes(declared):
  """{size: (least, why)} of `Least` declarations: each size's largest least value, and why,
  naming every declaration that asks for it ('A and B need ...')."""
  largest = {}
  for entry in declared:
    if entry.least > largest.get(entry.size, (0,))[0]:
      largest[entry.size] = (entry.least, [])
    if entry.least == largest[entry.size][0]:
      largest[entry.size][1].append(entry)
  sizes = {}
  for size, (least, entries) in largest.items():
    reasons = {}
    for entry in entries:
      if entry.why:
        reasons.setdefault(entry.why, []).append(entry.who)
    sizes[size] = (least, '; '.join(f'{_joined(whos)} {why}' for why, whos in reasons.items()))
  return sizes
