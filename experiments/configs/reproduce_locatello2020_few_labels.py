"""Locatello et al., ICLR 2020 ("Disentangling Factors of Variation Using Few Labels") on dSprites,
for an accelerator: the β-VAE against S2-β-VAE with 100 and with 1,000 labelled images.

  python -m experiments.compare_methods \
      --config=experiments/configs/reproduce_locatello2020_few_labels.py --workdir=DIR

The published budget of the study it extends (methods_full.py): the conv VAE, 10 latents,
Bernoulli likelihood, 300k steps at batch 64, Adam 1e-4, every entry at the β-VAE's six
strengths, 5 seeds, the suite at its published sample sizes. The labelled set is drawn once
(the same for every model), perfectly labelled; 90 % of it trains, as the reference splits it;
the supervised term is the reference's `xent` at γ_sup = 256 (its one shipped value, 4 at batch
64, in this codebase's per-example units: `vae/methods/semi_supervised.py`). Other labellers
(--config.labeller=bin, noisy, permuted, partial) are one override each.

Expected (the paper's abstract and Section 5): with 100 or 1,000 labels (0.01 %-0.1 % of
dSprites), the semi-supervised models disentangle better than the unsupervised β-VAE (its DCI
disentanglement and MIG higher, their spread over seeds smaller), also with imprecise labels. The
paper's per-dataset numbers were not available to this team (BUILD_NOTES.md); the CPU-sized
comparison (recent_methods_cpu.py) records what a small budget shows.
"""

import ml_collections

from experiments.configs import default
from experiments.configs import methods_full


def get_config():
  config = methods_full.get_config()
  config.methods = 'beta_vae,s2_beta_vae_100,s2_beta_vae_1000'
  config.method_variants = ml_collections.ConfigDict({
      's2_beta_vae_100': {'method': 's2_beta_vae', 'num_labelled': 100},
      's2_beta_vae_1000': {'method': 's2_beta_vae', 'num_labelled': 1000}})
  config.method_strengths = ml_collections.ConfigDict(
      {entry: '' for entry in config.methods.split(',')})  # '': the β-VAE's six β.
  config.disentanglement = default.disentanglement_config()
  return config
