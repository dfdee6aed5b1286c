"""Locatello et al. 2019's dSprites study: six methods, six strengths each, conv VAEs, for an
accelerator.

  python -m experiments.compare_methods --config=experiments/configs/reproduce_locatello2019.py --workdir=DIR

Their setup (methods_full.py): the conv encoder and decoder of their Table 1, 10 latents,
Bernoulli likelihood, 300k steps at batch 64, Adam 1e-4, each method at its six published
strengths, 5 seeds here (they ran 50), the suite at its published sample sizes, plus Chen et
al.'s MIG and ELBO decomposition over the whole grid.

Published result it is checked against (Locatello et al. 2019, Sections 5.2-5.3, Figs. 6-7,
dSprites): every method's scores spread over seeds about as widely as over its strengths, and
no method beats the others beyond that spread. Each sweep's summary reports the share of each
score's variance between strengths and whether its best strength is distinguishable from seed
noise; methods.md puts the methods' models side by side.
"""

from experiments.configs import methods_full


def get_config():
  config = methods_full.get_config()
  config.disentanglement.chen_mig = True
  config.disentanglement.elbo_decomposition = True
  return config
