"""Tiny conv β-VAE for the tests: a few steps, 4 latents, small metric sizes.

  python -m experiments.train --config=experiments/configs/test.py --workdir=/tmp/vae_test
"""

from experiments.configs import default


# The classifier metrics' sizes: a few points per value of the test grid's factors.
CLASSIFIER_SIZES = dict(
    fairness_num_train=200, fairness_num_test_points_per_class=5,
    downstream_num_train='10,20,40,80', downstream_num_test=50,
    strong_downstream_num_train=50, strong_downstream_num_test=20,
    strong_downstream_num_experiments=2)

# The downstream task's cross-validated logistic regressions cost about 90 s per model even at
# these sizes (sklearn's fixed cost per fit: 50 per one-vs-rest class); its own tests and the
# slow whole-suite test score it.
SKIP_METRICS = 'downstream_task'


def get_config():
  config = default.get_config()
  config.latents = 4
  config.batch_size = 8
  config.num_train_steps = 4
  config.log_every_steps = 2
  config.eval_every_steps = 2
  config.checkpoint_every_steps = 2
  config.num_eval_examples = 16
  config.eval_batch_size = 8
  config.num_importance_samples = 6
  config.importance_chunk_size = 4  # Uneven: the last chunk is padded.
  config.annealed_steps = 8
  config.discriminator_hidden = 16
  config.discriminator_layers = 2
  config.disentanglement = default.disentanglement_config(
      num_train=200, num_test=100, sampled_batch_size=16, sampled_num_train=50,
      sampled_num_eval=30, num_variance_estimate=200, **CLASSIFIER_SIZES)
  config.disentanglement.skip_metrics = SKIP_METRICS
  return config
