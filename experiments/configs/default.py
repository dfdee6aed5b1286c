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
  config.beta = 4.0
  config.learning_rate = 5e-4
  config.batch_size = 64
  config.num_train_steps = 1000
  config.log_every_steps = 50
  config.eval_every_steps = 250
  config.checkpoint_every_steps = 250
  config.num_eval_examples = 512
  config.eval_batch_size = 256
  return config
