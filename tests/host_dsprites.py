"""Procedural dSprites read as a host source is (tfds, numpy files): numpy in, numpy out, not
jittable, so the loop draws its batches step by step on the host."""

import numpy as np

from vae.data import dsprites
from vae.data import ground_truth


def dataset() -> ground_truth.GroundTruthDataset:
  jittable = dsprites.dataset()
  return ground_truth.GroundTruthDataset(
      'host_dsprites', jittable.factor_names, jittable.factor_sizes, jittable.observation_shape,
      lambda key, n: np.asarray(dsprites.sample_factors(key, n)),
      lambda factors: np.asarray(dsprites.render(np.asarray(factors))), jittable=False)
