"""Locatello et al. 2020's weak-supervision effect at a CPU budget: the β-VAE against Ada-GVAE.

  python -m experiments.compare_methods \
      --config=experiments/configs/reproduce_locatello2020_cpu.py --workdir=DIR

The main job's architecture and budget (Chen et al.'s MLP, Adam 1e-3, batch 64, 800 steps: the
budget at which its β sweep puts two β apart beyond seed noise), all at β = 8, 4 seeds each (the
fewest with which two entries can differ beyond seed noise, p ≥ 2/C(8, 4) = 0.029). Ada-GVAE
trains on pairs that differ in one factor (`ada_gvae_k1`) or in k uniform on 1 … 4
(`ada_gvae_rnd`); an Ada-GVAE step encodes and decodes two images per pair, so it sees twice the
β-VAE's images. Every model is scored on single images by the same suite. BUILD_NOTES.md records
what this budget and 3,200 steps (--config.num_train_steps=3200) show.

Published result it is checked against (Locatello et al. 2020, Fig. 2 and 3, dSprites): Ada-GVAE's
disentanglement scores are far above the unsupervised β-VAE's and far less spread over seeds,
with k = 1 and with k = rnd.
"""

import ml_collections

from experiments.configs import sweep_beta


def get_config():
  config = sweep_beta.get_config()
  config.methods = 'beta_vae,ada_gvae_k1,ada_gvae_rnd'
  config.method_variants = ml_collections.ConfigDict({
      'ada_gvae_k1': {'method': 'ada_gvae', 'num_changed_factors': '1'},
      'ada_gvae_rnd': {'method': 'ada_gvae', 'num_changed_factors': 'rnd'}})
  config.method_strengths = ml_collections.ConfigDict(
      {'beta_vae': '8', 'ada_gvae_k1': '8', 'ada_gvae_rnd': '8'})
  config.betas = ''
  config.models_per_step = 4
  return config
