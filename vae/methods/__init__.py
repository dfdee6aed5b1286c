"""The methods, one module per method or family, and the registry everything else reads.

Adding a method: a module here declaring a `Method` subclass (`vae.methods.method`), its line in
`REGISTRY`, and a test. The strength lookup, the settings checks, what a model's saved config
keeps, the report's columns and symbols and the comparison's lists all derive from the registry.
"""

from vae import rules
from vae.methods import annealed_vae
from vae.methods import autoencoders
from vae.methods import beta_tcvae
from vae.methods import beta_vae
from vae.methods import dip_vae
from vae.methods import factor_vae
from vae.methods import free_bits_vae
from vae.methods import hfs
from vae.methods import qlae
from vae.methods import semi_supervised
from vae.methods import weakly_supervised
from vae.methods.method import Method


def _registry(*classes) -> dict[str, type[Method]]:
  """{name: method}; a name declared twice, or a setting declared twice with another rule or
  default, is an error."""
  registry, declared = {}, {}
  for cls in classes:
    if cls.name in registry:
      raise ValueError(f'two methods are named {cls.name!r}')
    registry[cls.name] = cls
    defaults = cls.setting_defaults()
    for name, rule in cls.setting_rules().items():
      if declared.setdefault(name, (rule, defaults[name])) != (rule, defaults[name]):
        raise ValueError(f'{cls.name} declares setting {name!r} with another rule or default')
  return registry


REGISTRY = _registry(
    autoencoders.PlainAE,
    autoencoders.SparseAE,
    autoencoders.DenoisingAE,
    autoencoders.ContractiveAE,
    beta_vae.VAE,
    beta_vae.BetaVAE,
    beta_tcvae.BetaTCVAE,
    factor_vae.FactorVAE,
    dip_vae.DIPVAEI,
    dip_vae.DIPVAEII,
    annealed_vae.AnnealedVAE,
    free_bits_vae.FreeBitsVAE,
    hfs.HFSBetaVAE,
    hfs.HFSBetaTCVAE,
    weakly_supervised.AdaGVAE,
    weakly_supervised.AdaMLVAE,
    weakly_supervised.GroupVAELabels,
    weakly_supervised.MLVAELabels,
    semi_supervised.S2BetaVAE,
    semi_supervised.S2FactorVAE,
    semi_supervised.S2DIPVAEI,
    semi_supervised.S2BetaTCVAE,
    semi_supervised.SupervisedVAE,
    qlae.QLAE,
)
NAMES = tuple(REGISTRY)
# The methods with a strength to sweep, each objective once (`vae` is `beta_vae`'s).
SWEPT = tuple(name for name, cls in REGISTRY.items() if cls.strength and not cls.same_as)
AUTOENCODERS = tuple(name for name, cls in REGISTRY.items() if not cls.variational)
METHOD_RULE = rules.OneOf(NAMES)


def get(name) -> type[Method]:
  """The method named `name`; an unknown one is a one-line error naming --config.method."""
  METHOD_RULE.check('--config.method', name)
  return REGISTRY[name]


def setting_rules() -> dict:
  """{setting: rule} of every method's settings and strengths."""
  merged = {}
  for cls in REGISTRY.values():
    merged.update(cls.setting_rules())
  return merged


def setting_defaults() -> dict:
  """{setting: default} of every method's settings and strengths: a config's method part."""
  merged = {}
  for cls in REGISTRY.values():
    merged.update(cls.setting_defaults())
  return merged


def own_settings(name) -> tuple[str, ...]:
  """The settings method `name` reads, its strength's included."""
  return tuple(get(name).setting_rules())


def strength_setting(name):
  """The setting that holds method `name`'s strength, or None for a method without one."""
  strength = get(name).strength
  return strength.setting if strength else None


def strength_of(config) -> float:
  """The strength `config` trains with (0 for a method without one)."""
  setting = strength_setting(config.method)
  return float(config[setting]) if setting else 0.0


def from_config(config, num_examples=None) -> Method:
  """The method `config.method` with its settings; `num_examples` is the training set's size."""
  return get(config.method).from_config(config, num_examples)
