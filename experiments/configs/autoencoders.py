"""The autoencoder family (docs/exercise_sheet.md, question 1) and the VAE, same data and budget.

  python -m experiments.compare_autoencoders --config=experiments/configs/autoencoders.py \
      --workdir=/tmp/autoencoders

MLP encoder/decoder (several times faster than conv on a CPU), 10-d code, Bernoulli likelihood;
each method trains for the same steps on the same data stream (same seed).
"""

from experiments.configs import mlp


def get_config():
  config = mlp.get_config()
  config.methods = 'ae,sparse_ae,denoising_ae,contractive_ae,vae'
  config.beta = 1.0  # The plain VAE.
  config.batch_size = 64
  config.num_train_steps = 600
  config.log_every_steps = 100
  config.eval_every_steps = 600
  config.checkpoint_every_steps = 600
  config.num_eval_examples = 256
  config.eval_batch_size = 128
  config.sparsity_weight = 1.0
  config.corruption = 'masking'
  config.drop_probability = 0.5
  config.contractive_weight = 1.0
  config.jacobian_estimator = 'hutchinson'  # Trains ~3× faster than 'exact'; measured exactly.
  config.num_probes = 1
  config.num_test_examples = 256
  config.test_seed = 12345  # Test inputs drawn from a key no run trains on.
  return config
