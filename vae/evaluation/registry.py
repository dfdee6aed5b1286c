"""The disentanglement suite's metrics, in the order their keys appear in each representation's
scores, and the least sample sizes of `config.disentanglement` they (and the suite's encoding
and whole-grid quantities) need.

A metric is one module declaring its `METRIC` (`vae.evaluation.metric.Metric`) and one line here.
"""

from vae.evaluation import active_units
from vae.evaluation import aggregate_posterior
from vae.evaluation import beta_vae_score
from vae.evaluation import dci
from vae.evaluation import dci_es
from vae.evaluation import downstream_task
from vae.evaluation import factor_vae_score
from vae.evaluation import fairness
from vae.evaluation import infomec
from vae.evaluation import irs
from vae.evaluation import metric
from vae.evaluation import mig
from vae.evaluation import mig_variants
from vae.evaluation import modularity
from vae.evaluation import sampled_scores
from vae.evaluation import sap
from vae.evaluation import strong_downstream_task
from vae.evaluation import unsupervised

METRICS = metric.registry((
    active_units.METRIC,
    mig.METRIC,
    sap.METRIC,
    modularity.METRIC,
    unsupervised.METRIC,
    dci.METRIC,
    beta_vae_score.METRIC,
    factor_vae_score.METRIC,
    irs.METRIC,
    downstream_task.METRIC,
    fairness.METRIC,
    strong_downstream_task.METRIC,
    mig_variants.METRIC,
    infomec.METRIC,
    dci_es.METRIC,
))

# {size: (least value, why)}: `vae.settings.check_disentanglement` checks each against it.
LEAST_SIZES = metric.least_sizes(
    [least for m in METRICS for least in m.least] + [*sampled_scores.LEAST,
                                                     *aggregate_posterior.LEAST])
