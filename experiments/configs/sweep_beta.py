"""β sweep of the conv β-VAE on the embedded procedural dSprites, sized for a 2-core CPU.

  python -m experiments.sweep_beta --config=experiments/configs/sweep_beta.py --workdir=runs/sweep

Overrides: --config.betas='1,2,4,8,16' --config.num_seeds=3. All models train in one vmapped
program (`models_per_step` at a time); each is then scored with the disentanglement suite on
smaller-than-published sample sizes, and the sweep ends with summary.{csv,json,md} and figures/.
"""

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.betas = '1,4,16'
  config.strengths = ''  # Another method's values (--config.method): '' is the study's set.
  # log p(x) with K = 16: 4 s per conv model on 512 images here, where K = 64 takes 15 s.
  config.num_importance_samples = 16
  config.num_seeds = 1
  config.models_per_step = 8
  config.num_train_steps = 500
  config.eval_every_steps = 250
  config.checkpoint_every_steps = 250
  # BetaVAE/FactorVAE encode 64 images per point: at the published 10,000/5,000 points the suite
  # instead encodes the whole 737,280-image grid once (sampled_scores.tabulated), which still
  # takes ~6 of its ~9 min per model on a 2-core CPU (BUILD_NOTES.md). The CPU sweep uses smaller
  # sizes: about 60,000 encoder passes per model.
  config.disentanglement = default.disentanglement_config(
      num_train=1000, num_test=500, sampled_num_train=100, sampled_num_eval=50,
      num_variance_estimate=1000)
  return config
