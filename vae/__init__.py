"""JAX/Flax autoencoders and variational autoencoders for research.

The parts, in the order a run goes through them:

  distributions, likelihoods, models, layers   the model and its math (q(z|x), p(x|z), networks)
  methods/      one module per method or family, and the registry everything else reads
  settings, rules   the settings boundary: every setting checked once, each rule worded once
  data/         ground-truth sources (procedural dSprites and variants, files, tfds)
  training/     the pure step, the loop, the run directory's contract, checkpoints, devices
  evaluation/   the metrics and their registry, and a model's final evaluation
  studies/      sweeps, comparisons, summaries with seed statistics
  files, plotting, errors   atomic writes, figures, the one-line error types
"""
