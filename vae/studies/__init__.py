"""Studies of many models: sweeps over a strength, comparisons of methods, summaries and plots."""
