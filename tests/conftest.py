"""Shared fixtures: the tiny test config."""

import pytest

from experiments.configs import test as test_config


@pytest.fixture
def config():
  return test_config.get_config()
