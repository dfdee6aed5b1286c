"""The reference study's comparison at its published budget, for an accelerator.

  python -m experiments.compare_methods --config=experiments/configs/methods_full.py --workdir=DIR

Conv VAE, 300k steps, batch 64, Adam 1e-4, every method at all six of its strengths, 5 seeds
(Locatello et al. 2019: AnnealedVAE γ = 1000 and T = 100k; FactorVAE's 6 × 1000 discriminator
with Adam 1e-4, β₁ 0.5, β₂ 0.9), log p(x) with K = 5000, and the disentanglement suite at its
published sample sizes.
"""

import ml_collections

from experiments.configs import default
from experiments.configs import methods


def get_config():
  config = methods.get_config()
  config.method_strengths = ml_collections.ConfigDict(
      {method: '' for method in config.methods.split(',')})  # '': the study's six values.
  config.num_seeds = 5
  config.models_per_step = 'auto'  # The most that fit the accelerator's memory.
  config.model = 'conv'
  config.learning_rate = 1e-4
  config.num_train_steps = 300_000
  config.log_every_steps = 1000
  config.eval_every_steps = 10_000
  config.checkpoint_every_steps = 10_000
  config.annealed_steps = 100_000
  config.num_importance_samples = 5000
  config.importance_chunk_size = 100
  config.disentanglement = default.disentanglement_config()
  return config
