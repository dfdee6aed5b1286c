"""A model's final evaluation: its place below the loop, and the eval row it adds log p(x) to."""

import ast
import pathlib

import jax
import ml_collections
import numpy as np

from experiments.configs import test as test_config
from vae.data import dsprites
from vae.evaluation import model_evaluation
from vae.training import train

_EVALUATION = pathlib.Path(model_evaluation.__file__).parent


def _imported(path):
  """Every module name `path` imports (`import a.b`, `from a.b import c` gives a.b and a.b.c)."""
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      names.add(node.module)
      names.update(f'{node.module}.{alias.name}' for alias in node.names)
  return names


def test_nothing_in_evaluation_imports_the_loop_or_the_studies():
  modules = sorted(_EVALUATION.glob('*.py'))
  assert len(modules) > 10
  upward = {path.name: sorted(name for name in _imported(path)
                              if name.split('.')[:2] in (['vae', 'training'], ['vae', 'studies']))
            for path in modules}
  assert {name: found for name, found in upward.items() if found} == {}


def _state(config, step):
  model = train.create_model(config, dsprites.IMAGE_SHAPE)
  state = train.create_train_state(jax.random.key(0), config, model, dsprites.IMAGE_SHAPE)
  return state.replace(step=jax.numpy.asarray(step, jax.numpy.int32))


def test_only_the_final_row_of_a_vae_adds_log_px():
  config = ml_collections.ConfigDict(test_config.get_config().to_dict())
  images = dsprites.sample(jax.random.key(1), 8)
  keys = train.named_keys(0)
  middle = model_evaluation.eval_row(_state(config, 1), images, keys, config)
  final = model_evaluation.eval_row(_state(config, config.num_train_steps), images, keys, config)
  assert 'log_px' not in middle
  assert final['elbo_gap'] == final['log_px'] - final['elbo']
  assert {name: final[name] for name in middle} == middle  # The same ε: the same loss terms.


def test_evaluate_weights_chunks_by_size(config):
  # The mean over 24 images in chunks of 16 + 8 equals the single-batch mean (brute force).
  state = _state(config, 0)
  images = dsprites.sample(jax.random.key(1), 24)
  key = jax.random.key(3)
  chunked = model_evaluation.evaluate(state, images, key, batch_size=16)
  metrics = [model_evaluation.eval_step(state, images[s:s + 16], jax.random.fold_in(key, i))
             for i, s in enumerate((0, 16))]
  expected = (16 * float(metrics[0]['recon']) + 8 * float(metrics[1]['recon'])) / 24
  # The same compiled eval_step on the same chunks and keys, weighted in float64: equal up to
  # float64 rounding. (A wrong chunk key moves recon by ~1e-5 relative, a looser rtol's reach.)
  np.testing.assert_allclose(chunked['recon'], expected, rtol=1e-12)
