"""Input checks shared by the disentanglement metrics.

Every metric takes codes ``[N, num_codes]`` and factors ``[N, num_factors]``
as numpy-convertible arrays. Problems a user can fix (mismatched lengths,
non-finite values, too few samples) raise :class:`vae.errors.UserInputError`
with a one-line message instead of failing deep inside numpy or sklearn.

Factors that take a single value in the training set are dropped by the
supervised metrics: such a factor has nothing for a code to capture, its
entropy is zero (MIG would divide by it) and a classifier cannot be trained
on one class. If no factor varies, the metric raises.
"""

import numpy as np

from vae.errors import UserInputError


def as_matrix(values, name):
  """``values`` as a finite float64 ``[N, D]`` array, or a UserInputError."""
  array = np.asarray(values, dtype=np.float64)
  if array.ndim != 2:
    raise UserInputError(
        f'{name} must be a 2-D array [num_samples, dims], got shape {array.shape}')
  if array.shape[0] == 0 or array.shape[1] == 0:
    raise UserInputError(f'{name} is empty (shape {array.shape})')
  if not np.all(np.isfinite(array)):
    raise UserInputError(f'{name} contains NaN or infinite values')
  return array


def check_same_length(a, b, name_a, name_b):
  """Raises unless ``a`` and ``b`` hold the same number of samples."""
  if a.shape[0] != b.shape[0]:
    raise UserInputError(
        f'{name_a} has {a.shape[0]} samples but {name_b} has {b.shape[0]}')


def check_enough_samples(num_samples, num_bins, name='codes'):
  """Raises when a histogram would have more bins than samples."""
  if num_bins < 2:
    raise UserInputError(f'num_bins must be at least 2, got {num_bins}')
  if num_samples < num_bins:
    raise UserInputError(
        f'{name} has {num_samples} samples, fewer than num_bins={num_bins}')


def check_discrete(factors, name):
  """Raises unless every factor value is an integer (a class label)."""
  if not np.array_equal(factors, np.round(factors)):
    raise UserInputError(
        f'{name} must be integer-valued (discrete factors), got fractional values')


def codes_and_factors(codes, factors, suffix='', discrete=True):
  """Validated ``(codes, factors)`` arrays of equal length."""
  codes = as_matrix(codes, 'codes' + suffix)
  factors = as_matrix(factors, 'factors' + suffix)
  check_same_length(codes, factors, 'codes' + suffix, 'factors' + suffix)
  if discrete:
    check_discrete(factors, 'factors' + suffix)
  return codes, factors


def varying_factors(factors):
  """Boolean mask of the factor columns that take more than one value."""
  return np.any(factors != factors[:1], axis=0)


def keep_varying(factors_train, *others):
  """Drops factor columns constant in ``factors_train`` from every array."""
  mask = varying_factors(factors_train)
  if not mask.any():
    raise UserInputError(
        'every factor takes a single value in the training set; nothing to score')
  return tuple(f[:, mask] for f in (factors_train,) + others)


def train_test(codes_train, factors_train, codes_test, factors_test,
               discrete=True):
  """Validated train/test arrays with constant factors removed."""
  codes_train, factors_train = codes_and_factors(
      codes_train, factors_train, '_train', discrete)
  codes_test, factors_test = codes_and_factors(
      codes_test, factors_test, '_test', discrete)
  if codes_train.shape[1] != codes_test.shape[1]:
    raise UserInputError(
        f'codes_train has {codes_train.shape[1]} codes but codes_test has '
        f'{codes_test.shape[1]}')
  if factors_train.shape[1] != factors_test.shape[1]:
    raise UserInputError(
        f'factors_train has {factors_train.shape[1]} factors but factors_test '
        f'has {factors_test.shape[1]}')
  factors_train, factors_test = keep_varying(factors_train, factors_test)
  return codes_train, factors_train, codes_test, factors_test
