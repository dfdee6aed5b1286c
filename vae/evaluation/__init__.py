"""Disentanglement metrics with disentanglement_lib's definitions and defaults.

One module per metric, each with a function of the same name; array-level
scores take codes ``[N, num_codes]`` and integer factors ``[N, num_factors]``
(numpy or JAX arrays) and return a dict of named floats:

* ``mig.mig``, ``dci.dci``, ``sap.sap``,
  ``modularity.modularity_explicitness``, ``unsupervised.unsupervised``;
* ``sampled_scores.beta_vae_score`` and ``sampled_scores.factor_vae_score``
  draw from a ground-truth dataset through an ``encode_fn``.

Functions are not re-exported here: ``vae.evaluation.dci`` must stay the
module (the function would shadow it).
"""
