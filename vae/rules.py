"""A setting's rule: the values it accepts, and the one line that names the setting otherwise.

Every check of a setting goes through one of these, so each rule and its wording exist once:
`--config.NAME=VALUE must be DESCRIPTION`, or for a choice `unknown NAME 'VALUE' (--config.NAME);
allowed: A, B`.
"""

import dataclasses
import math
import numbers
from typing import Callable

from vae.errors import UserInputError


def is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def shown(value):
  """`value` as a message shows it: a string quoted, so that '4' is not taken for 4."""
  return repr(value) if isinstance(value, str) else value


@dataclasses.dataclass(frozen=True)
class Rule:
  """Accepts the values for which `accepts` is true; `description` completes 'must be ...'."""

  accepts: Callable[[object], bool]
  description: str

  def check(self, flag, value):
    if not self.accepts(value):
      raise UserInputError(f'{flag}={shown(value)} must be {self.description}')


@dataclasses.dataclass(frozen=True)
class OneOf:
  """Accepts one of the names `allowed`."""

  allowed: tuple[str, ...]

  def check(self, flag, value):
    if value not in self.allowed:
      name = flag.rsplit('.', 1)[-1]
      raise UserInputError(
          f"unknown {name} '{value}' ({flag}); allowed: {', '.join(self.allowed)}")


def real(accepts, description) -> Rule:
  """A rule on a real number (a bool is not one)."""
  return Rule(lambda v: is_real(v) and accepts(v), description)


POSITIVE_INT = Rule(lambda v: is_int(v) and v > 0, 'a positive integer')
# +inf passes: a deliberately diverging sweep member's failure is recorded, not fatal.
NON_NEGATIVE = real(lambda v: v >= 0, '>= 0')
FINITE_NON_NEGATIVE = real(lambda v: 0 <= v < math.inf, 'a finite number >= 0')
FINITE_POSITIVE = real(lambda v: 0 < v < math.inf, 'a finite number > 0')


def models_per_step(value) -> int | str:
  """`--config.models_per_step` as a positive int or 'auto' (a command line may give '8')."""
  if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) >= 1:
    return int(value)
  return value


def _is_models_per_step(value) -> bool:
  value = models_per_step(value)
  return value == 'auto' or (is_int(value) and value > 0)


MODELS_PER_STEP = Rule(_is_models_per_step, "a positive integer or 'auto'")
