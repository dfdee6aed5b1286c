"""What a method declares: its name, its strength, its settings and their rules, its logged terms,
its loss and, if it has one, its critic.

A method is a frozen dataclass whose fields are its settings (`setting(default, rule)`), so an
instance is hashable and rides as a static part of the jitted step. Its strength (β, γ, λ_od,
C_max) is not a field: the step traces it, so a sweep over it never recompiles. Everything else in
the codebase (the strength lookup, the settings checks, what a model's saved config keeps, the
report's columns and symbols, the comparison's lists) reads these declarations through the
registry in `vae.methods`.
"""

import dataclasses
from typing import ClassVar

import numpy as np
import optax

from vae import rules


@dataclasses.dataclass(frozen=True)
class Strength:
  """The setting a sweep varies: its config name, its symbol in tables, the reference sweep
(`defaults`) and a single run's value (`default`)."""

  setting: str
  symbol: str
  defaults: tuple[float, ...]
  default: float
  rule: ClassVar[rules.Rule] = rules.NON_NEGATIVE


def strength_label(value) -> str:
  """The shortest decimal that reads back as `value`: a strength's one name in run directories,
  table keys and columns, and figures (`%g` would merge 1 and 1.000001)."""
  return np.format_float_positional(value, trim='-')


def setting(default, rule):
  """A method's setting: a dataclass field read from `--config.<field name>`, checked by `rule`."""
  return dataclasses.field(default=default, metadata={'rule': rule})


@dataclasses.dataclass(frozen=True)
class Method:
  """The base of every method. `__call__(model, params, critic_params, batch, key, strength,
  step)` returns `(loss, aux)`: the loss to differentiate and the named scalars to log. The batch
  is what `sampler` draws: n observations, unless the method trains on something else (pairs)."""

  name: ClassVar[str]
  strength: ClassVar[Strength | None] = None  # None: nothing to sweep (the autoencoders).
  variational: ClassVar[bool] = True  # Trains a VAE (stochastic code) or a deterministic code.
  same_as: ClassVar[str | None] = None  # Another name of the same objective ('vae').
  terms: ClassVar[tuple[str, ...]] = ()  # Logged beside recon (and kl, elbo, kl_per_dim/i).
  summary_terms: ClassVar[tuple[str, ...]] = ()  # Of `terms`, what a sweep's summary shows.
  critic_tx: ClassVar = None  # The critic's optimizer, for a method that trains one.

  @classmethod
  def setting_rules(cls) -> dict:
    """{setting: rule} of the method's own settings, its strength's included."""
    own = {f.name: f.metadata['rule'] for f in dataclasses.fields(cls)}
    return {cls.strength.setting: cls.strength.rule, **own} if cls.strength else own

  @classmethod
  def setting_defaults(cls) -> dict:
    """{setting: default} of the method's own settings, its strength's included."""
    own = {f.name: f.default for f in dataclasses.fields(cls)}
    return {cls.strength.setting: cls.strength.default, **own} if cls.strength else own

  @classmethod
  def from_config(cls, config, num_examples=None):
    """The method with its settings from `config` (a default for one an old config lacks).

    `num_examples` is the training set's size, for a method that needs it.
    """
    del num_examples
    return cls(**{f.name: config.get(f.name, f.default) for f in dataclasses.fields(cls)})

  @classmethod
  def model_options(cls, config) -> dict:
    """Keyword options of `vae.models.create_model` the method asks of its network."""
    del config
    return {}

  def optimizer(self, learning_rate: float, observation_size: int):
    """The network's optimizer (Adam); `observation_size` is the number of values of one
    observation, for a method whose settings are per value."""
    del observation_size
    return optax.adam(learning_rate)

  def sampler(self, dataset):
    """`(key, n) -> batch`: what one training step draws from `dataset` (n observations)."""
    return dataset.sample_train

  def check_source(self, dataset, config):
    """Raises a one-line UserInputError when the method cannot train on `dataset` with
    `config`."""
    del dataset, config

  def init_critic(self, key, latents):
    """The critic's initial parameters; None for a method without one."""
    del key, latents
    return None

  def __call__(self, model, params, critic_params, x, key, strength, step):
    raise NotImplementedError

  def evaluate(self, model, params, critic_params, x, key, strength, step):
    """The eval row's named scalars on single observations `x` (the same as the loss's `aux`
    for a method trained on single observations)."""
    return self(model, params, critic_params, x, key, strength, step)[1]


@dataclasses.dataclass(frozen=True)
class VariationalMethod(Method):
  """A method that trains a VAE: one encoder pass with ε from `key`, then `loss` on its outputs."""

  def __call__(self, model, params, critic_params, x, key, strength, step):
    outputs = model.apply({'params': params}, x, key)
    return self.loss(x, outputs, model.likelihood, strength, step=step, key=key,
                     critic_params=critic_params)

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    """(loss, aux) from the VAE's outputs (`mean`, `logvar`, `z`, `decoder_out`)."""
    raise NotImplementedError
