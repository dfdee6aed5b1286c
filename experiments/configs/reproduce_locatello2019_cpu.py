"""Locatello et al. 2019's seed-against-strength finding at a CPU budget: the study's conv β-VAE.

  python -m experiments.sweep_beta --config=experiments/configs/reproduce_locatello2019_cpu.py --workdir=DIR

The study's conv encoder and decoder (reproduce_locatello2019.py), β ∈ {1, 16} (the ends of its
β range), 4 seeds each (the fewest with which two β can differ beyond seed noise), 500 steps at
batch 64 with Adam 5e-4 (the study trains 300k steps with 1e-4, which learns nothing in 500), the
suite on the mean codes at CPU sizes. BUILD_NOTES.md records what this budget shows.

Published result it is checked against (Locatello et al. 2019, Sections 5.2-5.3, dSprites): a
score's spread over seeds is about as wide as its spread over the strength, so the share of its
variance between the two β values (`figures/seed_variation.png`, summary.md) is not close to 1,
and a best β is rarely distinguishable at a handful of seeds.
"""

from experiments.configs import sweep_beta


def get_config():
  config = sweep_beta.get_config()
  config.model = 'conv'
  config.learning_rate = 5e-4
  config.betas = '1,16'
  config.num_train_steps = 500
  config.eval_every_steps = 250
  config.checkpoint_every_steps = 250
  return config
