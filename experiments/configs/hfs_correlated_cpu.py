"""HFS against the β-VAE on dSprites whose positions are correlated, at a CPU budget.

  python -m experiments.compare_methods \
      --config=experiments/configs/hfs_correlated_cpu.py --workdir=DIR

The training draws couple pos_x and pos_y with σ = 0.1 (Roth et al.'s `single_2_01` setup,
`vae.data.correlated`); the evaluation keeps uniform factors, as theirs does. The main job's
architecture and budget (Chen et al.'s MLP, 10 latents, Adam 1e-3, batch 64, 800 steps;
--config.num_train_steps=3200 --config.eval_every_steps=800 --config.checkpoint_every_steps=800
continues them to 3,200), 4 seeds per entry: the β-VAE at β = 8, and the β-VAE at β = 8 plus
γ·HFS over 25 pairs of latents a step (theirs) with γ = 300 (`hfs_beta_vae`, the authors' README
example) and with γ = 1, 10 and 100 (`hfs_gamma_<γ>`), each γ an entry of its own so that
methods.md compares each with the β-VAE.
Position is the factor pair that CPU-sized models encode (shape and orientation never are, see
BUILD_NOTES.md), so it is the pair whose coupling a factorized support can undo here.
BUILD_NOTES.md records what the two budgets show, beside the published claims.
"""

import ml_collections

from experiments.configs import sweep_beta


def get_config():
  config = sweep_beta.get_config()
  config.correlated_factors = 'single_2_01'
  gammas = ('1', '10', '100')
  config.methods = ','.join(['beta_vae', 'hfs_beta_vae', *(f'hfs_gamma_{g}' for g in gammas)])
  config.method_variants = ml_collections.ConfigDict(
      {f'hfs_gamma_{g}': {'method': 'hfs_beta_vae'} for g in gammas})
  config.method_strengths = ml_collections.ConfigDict(
      {'beta_vae': '8', 'hfs_beta_vae': '300', **{f'hfs_gamma_{g}': g for g in gammas}})
  config.beta = 8.0  # HFS's own β (a setting; γ is its swept strength).
  config.betas = ''
  config.models_per_step = 4
  return config
