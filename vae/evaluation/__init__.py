"""A model's evaluation, and the disentanglement metrics with disentanglement_lib's definitions.

One module per metric, each with a function of the same name and its `METRIC` declaration
(`metric.Metric`: name, result keys, least sample sizes, score function); `registry.METRICS` lists
them in the order of the result keys. Array-level scores take codes ``[N, num_codes]`` and integer
factors ``[N, num_factors]`` (numpy or JAX arrays) and return a dict of named floats:

* ``mig.mig``, ``dci.dci``, ``sap.sap``, ``modularity.modularity_explicitness``,
  ``unsupervised.unsupervised``, ``active_units.active_units``;
* ``beta_vae.beta_vae_scores`` and ``factor_vae.factor_vae_scores`` draw from a ground-truth
  dataset and encode with a ``sampled_scores.PureEncoder``.

`suite` runs the registry on one model's representations; `model_evaluation` is a model's whole
evaluation (eval row, log p(x), figures, the suite's files). Nothing here imports the training
loop or the studies: the caller hands in the state, the run's keys and the directory.

Functions are not re-exported here: ``vae.evaluation.dci`` must stay the module (the function
would shadow it).
"""
