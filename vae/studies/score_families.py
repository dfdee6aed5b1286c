"""How a study's scores are named and grouped in its summary: the headline scores that answer
"which strength disentangles best, at what reconstruction cost", and every other column in a
family with one sentence on what its numbers mean.

The families follow the suite's registry (`vae.evaluation.registry`): each metric's keys are one
family, except fairness and the two downstream tasks, which the reference study reads as one
question each. A column no family claims (a new metric's) lands in 'Other', so nothing is lost.
"""

from vae import methods
from vae.evaluation import registry

# The ELBO's terms a summary leads with, then the headline scores, as (column, name in tables).
COMPONENTS = (('recon', 'recon'), ('kl', 'KL'), ('elbo', 'ELBO'), ('log_px', 'log p(x)'))
HEADLINE = (('beta_vae_eval_accuracy', 'BetaVAE'), ('factor_vae_eval_accuracy', 'FactorVAE'),
            ('discrete_mig', 'MIG'), ('chen_mig', 'MIG (Chen et al.)'),
            ('disentanglement', 'DCI disentanglement'), ('sap_score', 'SAP'),
            ('modularity_score', 'modularity'), ('irs', 'IRS'), ('udr', 'UDR'))
HEADLINE_SCORES = tuple(name for name, _ in HEADLINE)

# {metric: (title, what its numbers mean)} of the registry's metrics that are a family alone.
_METRIC_MEANINGS = {
    'active_units': ('Active latents', 'Latents whose posterior mean varies over the data '
                     '(variance above 0.01, Burda et al.\'s threshold).'),
    'mig': ('MIG', 'Mutual information gap: per factor, the gap in mutual information between '
            'its two most informative latents over the factor\'s entropy, averaged (0 to 1; '
            'higher is more disentangled).'),
    'sap': ('SAP', 'Separated attribute predictability: per factor, the gap in accuracy between '
            'the two single latents that predict it best, averaged (higher is better).'),
    'modularity': ('Modularity and explicitness', 'Modularity: how far each latent\'s '
                   'information concentrates on one factor (1: each latent informs about one '
                   'factor); explicitness: the ROC AUC of predicting each factor\'s values from '
                   'the whole code, train and test.'),
    'unsupervised': ('Unsupervised scores', 'No labels: the total correlation and Wasserstein '
                     'dependence of a Gaussian fitted to the codes, and the mean mutual '
                     'information between pairs of discretized latents (lower: less dependent '
                     'latents).'),
    'dci': ('DCI', 'Gradient-boosted trees predict each factor from the code: disentanglement '
            '(each latent\'s importance concentrated on one factor), completeness (each '
            'factor captured by one latent), informativeness (the trees\' accuracy, train and '
            'test).'),
    'beta_vae': ('BetaVAE score', 'Accuracy of a linear classifier that names the factor held '
                 'fixed in a batch of pairs from their codes\' mean absolute difference (train, '
                 'eval).'),
    'factor_vae': ('FactorVAE score', 'Accuracy of a majority vote that names the factor held '
                   'fixed in a batch from its least-varying normalized latent; num_active_dims '
                   'counts the latents it votes with.'),
    'irs': ('IRS', 'Interventional robustness: how little the latents that carry a factor move '
            'when the other factors change (1: not at all).'),
    'mig_variants': ('MIG variants', 'MIG-sup: per latent, the gap between its two most '
                     'informative factors over its entropy (each latent holds one factor); '
                     'DCIMIG: each factor\'s largest such gap over the factors\' entropy; '
                     'JEMMIG: 1 minus the joint-entropy gap of each factor and its best latent, '
                     'normalized (0 to 1; higher is more disentangled).'),
    'infomec': ('InfoMEC', 'Normalized mutual information between factors and active latents '
                '(nearest-neighbour estimate; counts for a quantized code): InfoM, each latent '
                'informs about one factor; '
                'InfoC, each factor is held by one latent; InfoE, how much of each factor a '
                'logistic regression reads from the whole code (0 to 1; higher is better).'),
    'dci_es': ('DCI-ES', 'Explicitness: 1 minus the area under the loss of random forests of '
               'growing depth predicting each factor, over its baseline (1 also for a code that '
               'tells nothing: read it beside the best accuracy, dci_es_informativeness); size: '
               'factors per latent.'),
}
_FAIRNESS = ('Fairness', 'Unfairness of a classifier of one factor towards another (the '
             'sensitive one): mean or max over the sensitive factors, the predicted factors and '
             'their pairs, as each name says (lower is fairer).')
_DOWNSTREAM = ('Downstream tasks', 'Accuracy of logistic regression and gradient-boosted trees '
               'that predict each factor from the code with n training points (mean and worst '
               'factor; efficiency: accuracy at few points over many), and the strong '
               'downstream task\'s accuracy on held-out factor combinations.')
_GROUPED = {'fairness': _FAIRNESS, 'downstream_task': _DOWNSTREAM,
            'strong_downstream_task': _DOWNSTREAM}


def _component_columns():
  terms = dict.fromkeys(term for method in methods.REGISTRY.values()
                        for term in method.summary_terms)
  return ('recon', 'kl', 'elbo', 'log_px', 'elbo_gap', *terms)


def families():
  """[(title, sentence, columns)] in the summary's order."""
  result = [('ELBO components', 'Nats per example on the eval set: recon, kl, elbo, log_px (the '
             'importance-weighted bound) and elbo_gap = log_px − elbo; then the method\'s own '
             'terms.', _component_columns())]
  grouped = {}
  for metric in registry.METRICS:
    if metric.name in _GROUPED:
      title, sentence = _GROUPED[metric.name]
      if title not in grouped:
        grouped[title] = (title, sentence, [])
        result.append(grouped[title])
      grouped[title][2].extend(metric.keys)
    else:
      result.append((*_METRIC_MEANINGS[metric.name], metric.keys))
  result.append(('Whole factor grid (Chen et al. 2018)', 'MIG from the aggregate posterior '
                 'over every image of the factor grid, and the ELBO\'s decomposition there '
                 '(index-code mutual information, total correlation, dimension-wise KL and '
                 'their sum, the mean KL), nats per example.',
                 ('chen_mig', 'dataset_mi', 'dataset_tc', 'dataset_dim_kl', 'dataset_kl')))
  result.append(('UDR', 'Unsupervised disentanglement ranking: each model\'s agreement with the '
                 'study\'s other models (no labels), by Lasso and by Spearman correlation.',
                 ('udr', 'udr_spearman')))
  return [(title, sentence, tuple(keys)) for title, sentence, keys in result]


def grouped(names):
  """[(title, sentence, columns of `names` it holds)] for the families that hold any, and
  'Other' for the columns no family claims."""
  claimed, result = set(), []
  for title, sentence, keys in families():
    held = [k for k in keys if k in names and k not in claimed]
    claimed.update(held)
    if held:
      result.append((title, sentence, held))
  rest = [n for n in names if n not in claimed]
  if rest:
    result.append(('Other', 'Columns no family above describes.', rest))
  return result
