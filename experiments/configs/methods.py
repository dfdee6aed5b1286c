"""The reference study's six methods, each at two strengths, on procedural dSprites (CPU-sized).

  python -m experiments.compare_methods --config=experiments/configs/methods.py --workdir=DIR

β-VAE, AnnealedVAE, FactorVAE, DIP-VAE-I, DIP-VAE-II and β-TCVAE (Locatello et al. 2019), each a
sweep of its two strengths trained as one vmapped program, then scored. The MLP VAE (4096-500-10)
trains several times faster than the conv one on a CPU; the budget, the metric sample sizes and
K of log p(x) are sized so that the whole comparison runs on a CPU, not the published ones (see
methods_full.py; BUILD_NOTES.md has the measured time).
Overrides: --config.methods=beta_vae,factor_vae --config.method_strengths.factor_vae='10,40'.
"""

import ml_collections

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.methods = 'beta_vae,annealed_vae,factor_vae,dip_vae_i,dip_vae_ii,beta_tcvae'
  # A low and a high value from each method's published range.
  config.method_strengths = ml_collections.ConfigDict({
      'beta_vae': '1,16', 'annealed_vae': '5,25', 'factor_vae': '10,50', 'dip_vae_i': '1,20',
      'dip_vae_ii': '1,20', 'beta_tcvae': '1,10'})
  config.num_seeds = 1
  config.models_per_step = default.models_per_step(8)
  config.model = 'mlp'
  config.hidden = 500
  config.learning_rate = 1e-3
  config.batch_size = 64
  config.num_train_steps = 600
  config.log_every_steps = 100
  config.eval_every_steps = 300
  config.checkpoint_every_steps = 300
  config.annealed_steps = 300  # C(t) reaches C_max halfway through, as T = 100k of 300k would.
  config.num_importance_samples = 100
  config.importance_chunk_size = 100
  config.disentanglement = default.disentanglement_config(
      num_train=500, num_test=250, sampled_num_train=50, sampled_num_eval=30,
      num_variance_estimate=500, fairness_num_train=500, fairness_num_test_points_per_class=10,
      downstream_num_train='10,50,100,500', downstream_num_test=250,
      strong_downstream_num_train=500, strong_downstream_num_test=250,
      strong_downstream_num_experiments=2)
  config.disentanglement.representations = 'mean'  # Half the suite's time; the table reads it.
  # Tens of GBT fits per model: minutes over a comparison on two cores.
  config.disentanglement.skip_metrics = 'downstream_task,strong_downstream_task'
  return config
