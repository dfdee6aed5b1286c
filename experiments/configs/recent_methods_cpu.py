"""The methods since 2019 against the β-VAE at a CPU budget: few labels, pairs, quantized latents.

  python -m experiments.compare_methods \
      --config=experiments/configs/recent_methods_cpu.py --workdir=DIR

The main job's architecture and budget (Chen et al.'s MLP, 10 latents, Adam 1e-3, batch 64, 800
steps; --config.num_train_steps=3200 --config.eval_every_steps=800
--config.checkpoint_every_steps=800 continues the same models to 3,200), 4 seeds per entry (the
fewest with which two entries can differ beyond seed noise, p ≥ 2/C(8, 4) = 0.029):
- `beta_vae` and `ada_gvae_k1` at β = 8: the entries of reproduce_locatello2020_cpu.py;
- `s2_beta_vae_100` and `s2_beta_vae_1000`: the β-VAE at β = 8 plus γ_sup·xent on 100 or 1,000
  perfectly labelled images (90 and 900 train, as the reference splits them), γ_sup = 256 (the
  reference's one shipped value, 4 at batch 64, in per-example units);
- `qlae` at the authors' dSprites setting (kylehkhsu/latent_quantization's dSprites config):
  λ = 0.001 for the quantization and commitment terms, 10 values per latent, AdamW decay 0.1,
  clip 1.
Every model is scored by the same suite on single images; methods.md compares the entries over
seeds on the headline scores, InfoMEC and DCI-ES explicitness. BUILD_NOTES.md records what the
two budgets show, beside the published claims.
"""

import ml_collections

from experiments.configs import sweep_beta


def get_config():
  config = sweep_beta.get_config()
  config.methods = 'beta_vae,ada_gvae_k1,s2_beta_vae_100,s2_beta_vae_1000,qlae'
  config.method_variants = ml_collections.ConfigDict({
      'ada_gvae_k1': {'method': 'ada_gvae', 'num_changed_factors': '1'},
      's2_beta_vae_100': {'method': 's2_beta_vae', 'num_labelled': 100},
      's2_beta_vae_1000': {'method': 's2_beta_vae', 'num_labelled': 1000}})
  config.method_strengths = ml_collections.ConfigDict(
      {'beta_vae': '8', 'ada_gvae_k1': '8', 's2_beta_vae_100': '8', 's2_beta_vae_1000': '8',
       'qlae': '0.001'})
  config.betas = ''
  config.models_per_step = 4
  return config
