"""InfoMEC: InfoM, InfoE and InfoC (Hsu et al., NeurIPS 2023, "Disentanglement via Latent
Quantization"), as the authors' standalone ``disentangle/metrics/infomec.py`` computes them.

The normalized mutual information ``NMI[i, j] = I(factor_i; code_j) / H(factor_i)`` is estimated
from the codes as they are, without binning: continuous codes are standardized and paired with each
factor by the Kraskov (KSG) nearest-neighbour estimator with 10 neighbours (sklearn's
``mutual_info_classif``, whose 1e-10 tie-breaking jitter is drawn here from one seeded generator);
discrete codes (``discrete_codes=True``) by the plug-in estimator on their distinct values.
Codes whose range is at most 1/20 of the largest range (discrete codes: constant ones) are
inactive and pruned. In the suite, a quantized model's (QLAE's) mean representation is the code
its decoder reads and takes the discrete estimator, as the authors score their QLAE; every other
representation the continuous one.

- InfoM (modularity): per active code, ``max_i NMI / sum_i NMI``, averaged, rescaled from
  ``[1/F, 1]`` to ``[0, 1]`` (F factors; NaN for one factor). An active code with no
  information about any factor is skipped, as the authors' training-time ratio skips it (their
  standalone file returns NaN).
- InfoC (compactness): per factor, ``max_j NMI / sum_j NMI`` over active codes, averaged,
  rescaled from ``[1/L, 1]`` (L active codes). NaN where it is undefined, as in the reference:
  fewer than two active codes, or a factor no active code informs.
- InfoE (explicitness): per factor, an unpenalized multinomial logistic regression (lbfgs,
  balanced class weights, at most 100 iterations, tol 1e-4) on all standardized codes (one-hot
  codes if discrete) is scored in-sample by its mean log loss ``L``; InfoE is the mean over
  factors of ``(log K - L) / log K``, K the factor's number of values. ``log K`` is the loss of
  the reference's null fit on all-zero inputs: with balanced weights its best (and starting)
  prediction is uniform. The fit replays the reference's under the sklearn of its time
  (``_probabilities``), since sklearn 1.9 stops the same settings elsewhere.

Factors constant over the points are dropped (the reference divides by their zero entropy).
"""

import numpy as np

from vae.errors import UserInputError
from vae.evaluation import information
from vae.evaluation import metric
from vae.evaluation import validation

N_NEIGHBORS = 10  # The reference's KSG neighbours.
ACTIVE_FRACTION = 1 / 20  # A continuous code is active when its range exceeds this of the largest.
MAX_ITER = 100  # The reference's logistic regression settings.
TOL = 1e-4


def _dense_labels(values):
  """Labels ``0..K-1`` of a vector's sorted distinct values (sklearn's LabelEncoder)."""
  return np.unique(values, return_inverse=True)[1].ravel()


def _standardized(codes):
  """Codes scaled to zero mean and unit variance per column (constant columns centred only)."""
  from sklearn import preprocessing  # pylint: disable=g-import-not-at-top
  return preprocessing.StandardScaler().fit_transform(codes)


def _one_hot(codes):
  """Each column's distinct values as indicator columns, column after column."""
  columns = []
  for j in range(codes.shape[1]):
    labels = _dense_labels(codes[:, j])
    columns.append(np.eye(labels.max() + 1)[labels])
  return np.concatenate(columns, axis=1)


def ksg_information(code, labels, rng, n_neighbors=N_NEIGHBORS):
  """KSG estimate (nats, clipped at 0) of I(code; labels) for one continuous code ``[N]``."""
  from sklearn import feature_selection  # pylint: disable=g-import-not-at-top
  return float(feature_selection.mutual_info_classif(
      code[:, None], labels, discrete_features=False, n_neighbors=n_neighbors,
      random_state=rng)[0])


def normalized_information(codes, factors, discrete_codes=False, seed=0):
  """``NMI [num_factors, num_codes]``: I(factor_i; code_j) / H(factor_i), see the module doc.

  The jitter generator is drawn factor by factor, code by code, as the reference's loops draw
  numpy's global one, so ``seed`` equal to the reference's ``np.random.seed`` repeats it."""
  if discrete_codes:
    mi = information.mutual_information_matrix(codes, factors).T
  else:
    rng = np.random.RandomState(seed)
    scaled = _standardized(codes)
    mi = np.array([[ksg_information(scaled[:, j], _dense_labels(factors[:, i]), rng)
                    for j in range(codes.shape[1])] for i in range(factors.shape[1])])
  return mi / information.entropies(factors)[:, None]


def active_codes(codes, discrete_codes=False):
  """Mask of the codes kept by the reference's pruning (see the module docstring)."""
  ranges = codes.max(axis=0) - codes.min(axis=0)
  return ranges > (0.0 if discrete_codes else ranges.max() * ACTIVE_FRACTION)


def _rescaled_mean(preferences, floor):
  """Mean of ``max / sum`` preferences mapped from ``[floor, 1]`` to ``[0, 1]`` (NaN: undefined)."""
  if preferences.size == 0 or floor >= 1:
    return float('nan')
  return float((np.mean(preferences) - floor) / (1 - floor))


def infom(nmi):
  """InfoM of a pruned ``NMI [num_factors, num_active]`` (codes informing no factor skipped)."""
  totals = nmi.sum(axis=0)
  informative = totals > 0
  return _rescaled_mean(nmi.max(axis=0)[informative] / totals[informative], 1 / nmi.shape[0])


def infoc(nmi):
  """InfoC of a pruned ``NMI [num_factors, num_active]``."""
  totals = nmi.sum(axis=1)
  if nmi.shape[1] == 0 or not np.all(totals > 0):
    return float('nan')
  return _rescaled_mean(nmi.max(axis=1) / totals, 1 / nmi.shape[1])


def _balanced_weights(labels):
  """Per-point weights ``N / (K n_class)``: sklearn's class_weight='balanced'."""
  counts = np.bincount(labels)
  return (labels.size / (counts.size * counts))[labels]


def _logits(flat, inputs, num_classes):
  """Logits ``[N, K]`` of parameters laid out as sklearn's: ``[K, D + 1]`` raveled in F order."""
  params = flat.reshape((num_classes, -1), order='F')
  return inputs @ params[:, :-1].T + params[:, -1]


def _weighted_loss_and_gradient(flat, inputs, labels, weights, num_classes):
  """Weighted sum of the multinomial log loss and its gradient (no penalty)."""
  logits = _logits(flat, inputs, num_classes)
  logits -= logits.max(axis=1, keepdims=True)  # Softmax is shift-invariant; exp cannot overflow.
  exp = np.exp(logits)
  total = exp.sum(axis=1)
  rows = np.arange(labels.size)
  loss = np.sum(weights * (np.log(total) - logits[rows, labels]))
  residual = exp / total[:, None]
  residual[rows, labels] -= 1.0
  residual *= weights[:, None]
  gradient = np.concatenate([residual.T @ inputs, residual.sum(axis=0)[:, None]], axis=1)
  return loss, gradient.ravel(order='F')


def _probabilities(inputs, labels):
  """In-sample class probabilities ``[N, K]`` of the reference's logistic regression.

  The reference's ``LogisticRegression(penalty=None, class_weight='balanced', solver='lbfgs',
  multi_class='multinomial', max_iter=100, tol=1e-4)`` under the sklearn of its time (1.3)
  minimizes the weighted *sum* of log losses from zero with scipy's L-BFGS-B (gtol = tol, other
  options scipy's defaults). sklearn 1.9 minimizes the weighted *mean* with tighter ftol and
  longer line searches, so the same settings stop elsewhere; the fit is spelled out here to
  keep the reference's numbers."""
  from scipy import optimize  # pylint: disable=g-import-not-at-top
  num_classes = labels.max() + 1
  start = np.zeros(num_classes * (inputs.shape[1] + 1))
  result = optimize.minimize(
      _weighted_loss_and_gradient, start, method='L-BFGS-B', jac=True,
      args=(inputs, labels, _balanced_weights(labels), num_classes),
      options={'gtol': TOL, 'maxiter': MAX_ITER})
  logits = _logits(result.x, inputs, num_classes)
  probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
  return probabilities / probabilities.sum(axis=1, keepdims=True)


def _in_sample_log_loss(inputs, labels):
  """Mean log loss of the reference's fit on its own points, clipped as sklearn's log_loss."""
  eps = np.finfo(np.float64).eps
  probabilities = np.clip(_probabilities(inputs, labels), eps, 1 - eps)
  probabilities /= probabilities.sum(axis=1, keepdims=True)
  return float(np.mean(-np.log(probabilities[np.arange(labels.size), labels])))


def infoe(codes, factors, discrete_codes=False):
  """InfoE of codes ``[N, C]`` for factors ``[N, F]`` that all vary (see the module doc)."""
  inputs = _one_hot(codes) if discrete_codes else _standardized(codes)
  scores = []
  for i in range(factors.shape[1]):
    labels = _dense_labels(factors[:, i])
    null = np.log(labels.max() + 1)
    scores.append((null - _in_sample_log_loss(inputs, labels)) / null)
  return float(np.mean(scores))


def _check_repeated_values(factors):
  """Raises when a factor never repeats a value: the KSG estimator then has no neighbours."""
  for i in range(factors.shape[1]):
    if np.unique(factors[:, i]).size == factors.shape[0]:
      raise UserInputError(f'factor {i} takes a different value at every one of the '
                           f'{factors.shape[0]} points; InfoMEC needs repeated values')


def infomec(codes, factors, discrete_codes=False, seed=0):
  """InfoM, InfoE and InfoC of ``codes [N, C]`` w.r.t. integer ``factors [N, F]``.

  ``discrete_codes`` selects the plug-in estimator and one-hot inputs for codes that take few
  values (e.g. quantized latents); ``seed`` seeds the KSG jitter. Returns
  ``{'infom', 'infoe', 'infoc'}``; see the module docstring.
  """
  codes, factors = validation.codes_and_factors(codes, factors)
  if not discrete_codes and codes.shape[0] <= N_NEIGHBORS:
    raise UserInputError(f'codes has {codes.shape[0]} samples; InfoMEC needs more than the '
                         f'{N_NEIGHBORS} nearest neighbours of its estimator')
  (factors,) = validation.keep_varying(factors)
  if not discrete_codes:
    _check_repeated_values(factors)
  pruned = normalized_information(codes, factors, discrete_codes, seed)[
      :, active_codes(codes, discrete_codes)]
  return {'infom': infom(pruned), 'infoe': infoe(codes, factors, discrete_codes),
          'infoc': infoc(pruned)}


def _score(inputs):
  """InfoMEC of each representation; a quantized mean code with the discrete estimator, as the
  authors score their QLAE."""
  return {name: infomec(codes, inputs.factors_train,
                        discrete_codes=inputs.discrete_codes and name == 'mean')
          for name, codes in inputs.codes_train.items()}


METRIC = metric.Metric(
    'infomec', ('infom', 'infoe', 'infoc'), _score,
    least=(metric.Least('num_train', N_NEIGHBORS + 1, 'InfoMEC',
                        f'estimates mutual information from {N_NEIGHBORS} nearest neighbours'),))
