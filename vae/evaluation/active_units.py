"""Active latent units (Burda et al. 2016, "Importance weighted autoencoders", Sec. 5.2)."""

import numpy as np

from vae.evaluation import metric

# Burda et al.'s threshold on Cov_x(E_q[z_u | x]).
ACTIVE_THRESHOLD = 0.01


def active_units(mean_codes, threshold=ACTIVE_THRESHOLD):
  """`active_latents`: how many latents' posterior means vary across the data above threshold."""
  variances = np.var(np.asarray(mean_codes, dtype=np.float64), axis=0)
  return {'active_latents': int(np.sum(variances > threshold))}


METRIC = metric.Metric('active_units', ('active_latents',), metric.of_codes(active_units))
