"""MLP VAE (flatten-500-latents, as in the flax VAE example) on the procedural dSprites.

  python -m experiments.train --config=experiments/configs/mlp.py --workdir=/tmp/vae_mlp

On MNIST prepared with tfds (784-500-20): add --config.dataset=mnist --config.latents=20
--config.data_dir=DIR.
"""

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.model = 'mlp'
  config.hidden = 500
  config.beta = 1.0
  config.learning_rate = 1e-3
  config.batch_size = 128
  config.num_train_steps = 2000
  return config
