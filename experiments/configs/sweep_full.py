"""The published β-VAE schedule on procedural dSprites, for an accelerator.

  python -m experiments.sweep_beta --config=experiments/configs/sweep_full.py --workdir=runs/full

The conv VAE of the study, 300k steps, batch 64, Adam 1e-4, β ∈ {1, 2, 4, 6, 8, 16}, 5 seeds
(Locatello et al. 2019), and the disentanglement suite at its published sample sizes (10,000 train
/ 5,000 test points, mean and sampled codes).
"""

from experiments.configs import sweep_beta


def get_config():
  config = sweep_beta.get_config()
  config.model = 'conv'
  config.betas = '1,2,4,6,8,16'
  config.num_seeds = 5
  config.models_per_step = 'auto'  # The most that fit the accelerator's memory.
  config.learning_rate = 1e-4
  config.batch_size = 64
  config.num_train_steps = 300_000
  config.log_every_steps = 1000
  config.eval_every_steps = 10_000
  config.checkpoint_every_steps = 10_000
  config.num_importance_samples = 5000  # The published log p(x) evaluation.
  config.importance_chunk_size = 100
  config.disentanglement = sweep_beta.default.disentanglement_config()
  return config
