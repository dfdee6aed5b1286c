"""Conv β-VAE on the embedded procedural dSprites (about 6 minutes on a 2-core CPU).

  python -m experiments.train --config=experiments/configs/default.py --workdir=/tmp/vae_default

The architecture is the disentanglement standard (Higgins et al. 2017; Locatello et al. 2019) with
10 latents and a Bernoulli decoder; the step budget is what a CPU turns around in minutes, not
the published 300k steps.
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.dataset = 'procedural_dsprites'
  config.data_dir = ''
  config.model = 'conv'
  config.latents = 10
  config.hidden = 500
  config.likelihood = 'bernoulli'
  config.fixed_logvar = 0.0
  config.method = 'beta_vae'  # ae, sparse_ae, denoising_ae, contractive_ae, vae (= beta_vae, β=1).
  config.beta = 4.0  # (β-)VAE only.
  # sparse_ae: recon + sparsity_weight · (|z|₁ for 'l1', Σ_j KL(target ‖ ρ̂_j) for 'kl').
  config.sparsity_penalty = 'l1'
  config.sparsity_weight = 1.0
  config.sparsity_target = 0.05
  # denoising_ae: gaussian (noise_std), masking or salt_and_pepper (drop_probability).
  config.corruption = 'gaussian'
  config.noise_std = 0.5
  config.drop_probability = 0.25
  # contractive_ae: recon + contractive_weight · ‖J‖²_F, exact or Hutchinson with num_probes.
  config.contractive_weight = 0.1
  config.jacobian_estimator = 'exact'
  config.num_probes = 1
  config.learning_rate = 5e-4
  config.batch_size = 64
  config.num_train_steps = 1000
  config.log_every_steps = 50
  config.eval_every_steps = 250
  config.checkpoint_every_steps = 250
  config.num_eval_examples = 512
  config.eval_batch_size = 256
  config.disentanglement = disentanglement_config()
  return config


def disentanglement_config(num_train=10_000, num_test=5_000, sampled_batch_size=64,
                           sampled_num_train=10_000, sampled_num_eval=5_000,
                           num_variance_estimate=10_000):
  """Sample sizes of the disentanglement suite; the defaults are Locatello et al. 2019's."""
  return ml_collections.ConfigDict({
      'num_train': num_train,  # Points for MIG, DCI, SAP, modularity, unsupervised scores.
      'num_test': num_test,
      # The reference encodes 16 at a time; the codes do not depend on it, throughput does.
      'encode_batch_size': 256,
      'sampled_batch_size': sampled_batch_size,  # BetaVAE / FactorVAE score batches.
      'sampled_num_train': sampled_num_train,
      'sampled_num_eval': sampled_num_eval,
      'num_variance_estimate': num_variance_estimate,
  })
