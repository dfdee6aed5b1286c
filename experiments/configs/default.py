"""Conv β-VAE on the embedded procedural dSprites, with a CPU-sized step budget.

  python -m experiments.train --config=experiments/configs/default.py --workdir=/tmp/vae_default

The architecture is the disentanglement standard (Higgins et al. 2017; Locatello et al. 2019) with
10 latents and a Bernoulli decoder; the step budget is sized for a CPU, not the published 300k
steps (sweep_full.py has those).
"""

import ml_collections
from ml_collections import config_dict

from vae import methods


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
  # Training draws with coupled factors (Roth et al. 2023): a preset of vae.data.correlated, or
  # pairs FACTOR:FACTOR:SIGMA; the evaluation keeps uniform factors. Empty: none.
  config.correlated_factors = ''
  config.model = 'conv'
  # How conv layers compute (same parameters, same values): 'matmul' (vae/layers.py, the XLA:CPU
  # win), 'xla' (native lax.conv, for GPU/TPU), 'auto' (matmul on CPU, xla elsewhere).
  config.conv_impl = 'auto'
  config.latents = 10
  config.hidden = 500
  config.likelihood = 'bernoulli'
  config.fixed_logvar = 0.0
  # Any name in vae/methods/__init__.py's REGISTRY: the autoencoders ae, sparse_ae, denoising_ae,
  # contractive_ae, qlae; vae (= beta_vae at β = 1); the disentanglement methods beta_vae,
  # beta_tcvae, factor_vae, dip_vae_i, dip_vae_ii, annealed_vae, free_bits_vae, hfs_beta_vae,
  # hfs_beta_tcvae; on pairs ada_gvae, ada_mlvae, group_vae_labels, mlvae_labels; with a few
  # labels s2_beta_vae, s2_factor_vae, s2_dip_vae_i, s2_beta_tcvae, supervised_vae.
  config.method = 'beta_vae'
  # Every method's settings at the defaults its module declares (vae/methods/: what each does
  # and why), its strength among them: the value a sweep varies, traced, so no recompiles. Any
  # can be overridden, e.g. --config.beta=8 or --config.discriminator_layers=4.
  config.update(methods.setting_defaults())
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
  # UDR over a sweep's models (vae/evaluation/udr.py, Duan et al. 2020) at disentanglement_lib's
  # defaults: the inputs every model encodes, the KL (nats) a latent must exceed to count, the
  # Lasso's α, and the pairs a model's median runs over ('all', or the paper's 'same_strength').
  config.udr = ml_collections.ConfigDict(
      {'num_points': 1000, 'kl_threshold': 0.01, 'lasso_alpha': 0.1, 'pairs': 'all'})
  # Devices and hosts (vae/training/parallel.py). mesh_shape: 'auto', or 'M,D' with M × D = the device
  # count: M devices each hold whole models (a sweep's), D split each model's batch.
  config.mesh_shape = 'auto'
  # Several hosts: jax.distributed. SLURM and TPU pods need nothing else; elsewhere set the
  # coordinator (HOST:PORT), the process count and this process's id.
  config.distributed = False
  config.coordinator_address = ''
  config.num_processes = 0
  config.process_id = -1
  # A sweep or comparison split over independent jobs (vae/studies/shards.py): 'I/N' trains the
  # I-th (from 0) of N parts of its models, 'auto' the part of this SLURM array task; '' all.
  config.shard = ''
  return config


def models_per_step(value):
  """A study's `models_per_step`: a count, or 'auto' (on an accelerator, the most that fit its
  memory; on a CPU, every model at once). Typed as either, so the command line may give both."""
  return config_dict.FieldReference(value, field_type=object)


def disentanglement_config(num_train=10_000, num_test=5_000, sampled_batch_size=64,
                           sampled_num_train=10_000, sampled_num_eval=5_000,
                           num_variance_estimate=10_000, fairness_num_train=10_000,
                           fairness_num_test_points_per_class=100,
                           downstream_num_train='10,100,1000,10000', downstream_num_test=5_000,
                           strong_downstream_num_train=1_000, strong_downstream_num_test=1_000,
                           strong_downstream_num_experiments=10):
  """Sample sizes of the disentanglement suite; the defaults are Locatello et al. 2019's.

  A reduced config passes every size: one left at its published default costs minutes per model
  (the downstream task's 10,000-point fits alone take about 14 minutes on two CPU cores).
  """
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
      # Metrics of the registry left out (a comma list of names, e.g. 'fairness'): a CPU-sized run
      # may skip the slow ones; eval_disentanglement.json and the summaries say which.
      'skip_metrics': '',
      # IRS's quantile of the within-value deviations (the reference's 0.99; the paper's is 1).
      'irs_diff_quantile': 0.99,
      # Fairness (Locatello et al. 2019b): points the classifiers train on (the study's 10,000) and
      # points per value of each sensitive factor (the study's 100).
      'fairness_num_train': fairness_num_train,
      'fairness_num_test_points_per_class': fairness_num_test_points_per_class,
      # Downstream task: the four training sizes (the study's) and the test points of each size.
      'downstream_num_train': downstream_num_train,
      'downstream_num_test': downstream_num_test,
      # Strong downstream task: training and test points, and interventions per target factor
      # (the reference's unit-test sizes and its function's default).
      'strong_downstream_num_train': strong_downstream_num_train,
      'strong_downstream_num_test': strong_downstream_num_test,
      'strong_downstream_num_experiments': strong_downstream_num_experiments,
  })
