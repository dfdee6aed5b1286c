"""A model's evaluation: its eval row, and at the final step log p(x), its figures and the
disentanglement suite's files.

    eval row          the loss's named scalars on the fixed eval set (`evaluate`); at
                      `num_train_steps` a VAE's adds `log_px` and `elbo_gap` (`eval_row`)
    eval images       reconstructions, samples and a traversal as arrays, for TensorBoard at each
                      evaluation (`eval_images`)
    figures/          reconstructions.png, and for a VAE samples.png, traversals.png and the
                      animated traversals traversals_<mode>.gif (`save_figures`)
    eval_disentanglement.json, factor_latent.md, figures/factor_latent.png
                      the suite's scores of the final state (`write_scores`)

The caller (`vae.training.run_directory`) owns the run directory and the run's keys, and hands
the keys each part draws from: `eval_noise`, `log_px`, `sample`, `disentanglement`.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np

from vae import files
from vae import models
from vae import plotting
from vae import preemption
from vae import traversal_animation
from vae.evaluation import factor_latent
from vae.evaluation import marginal_likelihood
from vae.evaluation import suite

FIGURES_DIR = 'figures'
_LIKELIHOOD = ('elbo', 'log_px', 'elbo_gap')  # The eval row's entries the suite's file repeats.


@jax.jit
def eval_step(state, batch, key):
  """The named scalars of the state's method on the observations `batch` (`Method.evaluate`),
  without updating anything."""
  critic = None if state.critic is None else state.critic['params']
  return state.method.evaluate(state.model, state.params, critic, batch, key, state.strength,
                               state.step)


def evaluate(state, images, key, batch_size):
  """Scalars averaged over `images` (weighted by chunk size, in float64), ε from `key`."""
  totals, count = {}, 0
  for i, start in enumerate(range(0, len(images), batch_size)):
    chunk = images[start:start + batch_size]
    for name, value in eval_step(state, chunk, jax.random.fold_in(key, i)).items():
      totals[name] = totals.get(name, 0.0) + float(value) * len(chunk)
    count += len(chunk)
  return {name: total / count for name, total in totals.items()}


def eval_row(state, images, keys, config):
  """The eval row of `state` on `images` (ε from `keys['eval_noise']`); the final one of a VAE
  adds `log_px` (importance samples from `keys['log_px']`) and `elbo_gap`."""
  metrics = evaluate(state, images, keys['eval_noise'], config.eval_batch_size)
  if int(state.step) == config.num_train_steps and isinstance(state.model, models.VAE):
    log_px = marginal_likelihood.vae_log_px(state.model, state.params, images, keys['log_px'],
                                            config.num_importance_samples,
                                            config.importance_chunk_size, config.eval_batch_size)
    # log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)) on average: what the ELBO gives up
    # (docs/exercise_sheet.md, question 8).
    metrics.update(log_px=log_px, elbo_gap=log_px - metrics['elbo'])
  return metrics


_TRAVERSAL_VALUES = (-2.5, 2.5, 9)  # linspace arguments: the traversed values of each latent.


def _decoded(state, images, key):
  """The figures' decoder passes: {'originals' (8), 'reconstructions', and for a VAE 'samples'
  (32, from `key`) and 'traversals' ([latents, 9, ...] from the first image)}."""
  variables = {'params': state.params}
  apply = state.model.apply
  originals = images[:8]
  decoded = {'originals': originals,
             'reconstructions': apply(variables, originals, method='reconstruct')}
  if isinstance(state.model, models.VAE):
    decoded['samples'] = apply(variables, key, 32, method=models.VAE.sample)
    decoded['traversals'] = apply(variables, images[:1], jnp.linspace(*_TRAVERSAL_VALUES),
                                  method=models.VAE.traverse)
  return decoded


def eval_images(state, images, key):
  """{'reconstructions', and for a VAE 'samples' and 'traversals'}: [H, W, C] mosaics in [0, 1]
  of the final figures' decoder passes (the same shapes, so nothing compiles twice), for
  TensorBoard at each evaluation."""
  decoded = {name: np.asarray(value, np.float32)
             for name, value in _decoded(state, images, key).items()}
  grids = {'reconstructions': np.stack([decoded.pop('originals'), decoded['reconstructions']])}
  if 'samples' in decoded:
    grids['samples'] = decoded['samples'].reshape(4, 8, *decoded['samples'].shape[1:])
    grids['traversals'] = decoded['traversals']
  return {name: np.clip(plotting.mosaic(grid), 0.0, 1.0) for name, grid in grids.items()}


def save_figures(state, images, key, eval_metrics, figures_dir):
  """reconstructions.png, and for a VAE samples.png, traversals.png and traversals_<mode>.gif
  (only it generates)."""
  preemption.stop_point('drawing the figures')
  decoded = _decoded(state, images, key)
  plotting.save_reconstructions(os.path.join(figures_dir, 'reconstructions.png'),
                                decoded['originals'], decoded['reconstructions'])
  if not isinstance(state.model, models.VAE):
    return
  kl_per_dim = [eval_metrics[f'kl_per_dim/{i}'] for i in range(state.model.latents)]
  plotting.save_samples(os.path.join(figures_dir, 'samples.png'), decoded['samples'])
  plotting.save_traversals(os.path.join(figures_dir, 'traversals.png'), decoded['traversals'],
                           jnp.linspace(*_TRAVERSAL_VALUES), kl_per_dim)
  preemption.stop_point('animating the traversals')
  traversal_animation.save_animations(figures_dir, state.model, state.params, images, kl_per_dim)


def write_scores(workdir, state, dataset, key, sizes, final_row=None):
  """Scores `state` with the suite at `sizes` (keys from `key`) and writes
  `workdir/eval_disentanglement.json`, `factor_latent.md` and `figures/factor_latent.png`; the
  final eval row's `elbo`, `log_px` and `elbo_gap` go under `likelihood` when it has them."""
  results = suite.evaluate_state(state, dataset, key, sizes)
  results['step'] = int(state.step)
  # The final evaluation's log p(x) beside the scores, so this one file describes the model.
  if final_row and 'log_px' in final_row:
    results['likelihood'] = {name: final_row[name] for name in _LIKELIHOOD}
  plotting.save_factor_latent(os.path.join(workdir, FIGURES_DIR, 'factor_latent.png'),
                              results['factor_latent'])
  files.write_atomic(os.path.join(workdir, suite.FACTOR_LATENT_FILE),
                     factor_latent.markdown(results['factor_latent']))
  files.write_json_atomic(os.path.join(workdir, suite.RESULT_FILE), results)
  return results


def write_final(workdir, state, images, keys, final_row, dataset=None, sizes=None):
  """The final state's figures (from `images`, samples from `keys['sample']`), then, where
  `sizes` (`config.disentanglement`) is given, the suite's files of `dataset` (keys from
  `keys['disentanglement']`)."""
  save_figures(state, images, keys['sample'], final_row, os.path.join(workdir, FIGURES_DIR))
  if sizes is not None:
    preemption.stop_point('scoring')
    write_scores(workdir, state, dataset, keys['disentanglement'], sizes, final_row)
