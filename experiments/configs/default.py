"""Conv β-VAE on the embedded procedural dSprites, with a CPU-sized step budget.

  python -m experiments.train --config=experiments/configs/default.py --workdir=/tmp/vae_default

The architecture is the disentanglement standard (Higgins et al. 2017; Locatello et al. 2019) with
10 latents and a Bernoulli decoder; the step budget is sized for a CPU, not the published 300k
steps (sweep_full.py has those).
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0
  # procedural_dsprites, color_dsprites, noisy_dsprites, textured_dsprites (on texture_path, or
  # a procedural texture), dsprites_npz (the dSprites file at data_path), or the tfds datasets
  # dsprites, mnist, shapes3d, smallnorb (prepared under data_dir): python -m experiments.datasets
  config.dataset = 'procedural_dsprites'
  config.data_dir = ''
  config.data_path = ''
  config.texture_path = ''
  config.model = 'conv'
  # How conv layers compute (same parameters, same values): 'matmul' (vae/layers.py, the XLA:CPU
  # win), 'xla' (native lax.conv, for GPU/TPU), 'auto' (matmul on CPU, xla elsewhere).
  config.conv_impl = 'auto'
  config.latents = 10
  config.hidden = 500
  config.likelihood = 'bernoulli'
  config.fixed_logvar = 0.0
  # ae, sparse_ae, denoising_ae, contractive_ae, vae (= beta_vae, β=1), or the disentanglement
  # methods beta_vae, beta_tcvae, factor_vae, dip_vae_i, dip_vae_ii, annealed_vae.
  config.method = 'beta_vae'
  # Each disentanglement method's strength, the value a sweep varies (traced: no recompiles).
  config.beta = 4.0  # beta_vae: recon + β·KL; beta_tcvae: recon + MI + β·TC + dim-KL.
  config.gamma = 10.0  # factor_vae: recon + KL + γ·TC (TC from the discriminator).
  config.lambda_od = 1.0  # dip_vae_i/ii: λ_od·Σ_{i≠j} C_ij² + λ_d·Σ_i (C_ii − 1)².
  config.capacity_max = 25.0  # annealed_vae: recon + γ_a·|KL − C(t)|, C(t) → capacity_max nats.
  # beta_tcvae: the batch estimator of q(z), 'mws' (minibatch-weighted, the study's) or 'mss'
  # (minibatch-stratified); N, the training set's size, is the source's own unless set here.
  config.tc_estimator = 'mws'
  config.dataset_size = 0
  # dip_vae_i/ii: λ_d = lambda_d_factor_<type>·λ_od (the study's 10 for type i, 1 for type ii).
  config.lambda_d_factor_i = 10.0
  config.lambda_d_factor_ii = 1.0
  # annealed_vae: γ_a and the steps T over which C(t) = min(C_max, C_max·t/T) grows.
  config.annealed_gamma = 1000.0
  config.annealed_steps = 100_000
  # factor_vae: the discriminator (Kim & Mnih 2018: 6 × 1000 LeakyReLU, Adam β₁ 0.5, β₂ 0.9).
  config.discriminator_hidden = 1000
  config.discriminator_layers = 6
  config.discriminator_learning_rate = 1e-4
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
  # log p(x) of the final model: the K-sample importance-weighted bound (Burda et al. 2016), K
  # samples drawn importance_chunk_size at a time. The published evaluation uses K = 5000.
  config.num_importance_samples = 64
  config.importance_chunk_size = 16  # × eval_batch_size latents decoded at once.
  config.disentanglement = disentanglement_config()
  # Devices and hosts (vae/training/parallel.py). mesh_shape: 'auto', or 'M,D' with M × D = the device
  # count: M devices each hold whole models (a sweep's), D split each model's batch.
  config.mesh_shape = 'auto'
  # Several hosts: jax.distributed. SLURM and TPU pods need nothing else; elsewhere set the
  # coordinator (HOST:PORT), the process count and this process's id.
  config.distributed = False
  config.coordinator_address = ''
  config.num_processes = 0
  config.process_id = -1
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
      # The codes scored: the posterior mean and a sample z ~ q(z|x), as Locatello et al. 2019.
      'representations': 'mean,sampled',
      # Chen et al. 2018's MIG and ELBO decomposition over the whole factor grid (every image
      # encoded once; the entropies cost aggregate_samples × grid size × latents per estimate).
      'chen_mig': False,
      'elbo_decomposition': False,
      'aggregate_samples': 10_000,
  })
