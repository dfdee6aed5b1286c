"""Training: the pure step, the loop over groups of models, the run directory, checkpoints and
devices."""
