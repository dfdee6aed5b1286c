"""The autoencoder family (docs/exercise_sheet.md, question 1) trained alike, then measured.

Every method is the single run `--config.method=<method>` in `workdir/runs/<method>` (so it has
metrics, checkpoints and resume), measured afterwards on the same held-out test inputs and the
same corruption of them (the denoising autoencoder's training corruption):
  recon_clean        −log p(x | decode(code(x))), nats per example
  recon_corrupted    −log p(x | decode(code(x̃))): the clean x scored from a corrupted x̃
  mean_abs_code      mean |z| over test inputs and code units
  inactive_fraction  fraction of code entries with |z| < autoencoders.INACTIVE_THRESHOLD
  jacobian_norm      ‖J_code(x)‖²_F, exact, mean over test inputs
The VAE's code is its posterior mean. Test inputs are fresh draws from a key no training run uses.
"""

import csv
import functools
import io
import os

import jax
import jax.numpy as jnp
import numpy as np

from vae import files
from vae import methods
from vae import models
from vae import plotting
from vae import settings
from vae.errors import UserInputError
from vae.methods import autoencoders
from vae.training import loop
from vae.training import run_directory

COLUMNS = ('method', 'recon_clean', 'recon_corrupted', 'mean_abs_code', 'inactive_fraction',
           'jacobian_norm')
_FIGURE_COLUMNS = 8


def method_config(config, method):
  """`config` as the single run of `method`."""
  config = config.copy_and_resolve_references()
  config.method = method
  return config


@functools.partial(jax.jit, static_argnums=0)
def _measure_chunk(model, params, x, x_corrupted):
  """Per-example recon errors [B], codes [B, D] and squared Jacobian norms [B]."""
  variables = {'params': params}
  code_of = functools.partial(model.apply, variables, method='code')
  decode = functools.partial(model.apply, variables, method='decode')
  code = code_of(x)
  return {'recon_clean': autoencoders.reconstruction(x, decode(code), model.likelihood),
          'recon_corrupted': autoencoders.reconstruction(
              x, decode(code_of(x_corrupted)), model.likelihood),
          'code': code, 'jacobian_norm': autoencoders.jacobian_sq_norm(code_of, x)}


def measure(state, x, x_corrupted, batch_size):
  """The table's numbers (and `code_std`, the code's scale) for one trained model."""
  chunks = [_measure_chunk(state.model, state.params, x[s:s + batch_size],
                           x_corrupted[s:s + batch_size]) for s in range(0, len(x), batch_size)]
  values = {name: np.concatenate([np.asarray(c[name]) for c in chunks]) for name in chunks[0]}
  code = values.pop('code')
  row = {name: float(v.mean()) for name, v in values.items()}
  statistics = autoencoders.code_statistics(jnp.asarray(code))
  row.update({name: float(v) for name, v in statistics.items()})
  # Both penalties shrink if the code is merely rescaled (the decoder can undo it): the code's
  # spread over inputs tells a smaller scale from a sparser or flatter code.
  row['code_std'] = float(code.std(axis=0).mean())
  return row


def identity_baseline(likelihood, x, x_corrupted):
  """recon_corrupted of a model that returns its corrupted input (see Likelihood.params_for_mean)."""
  params = likelihood.params_for_mean(x_corrupted)
  return float(autoencoders.reconstruction(x, params, likelihood).mean())


def effects(rows):
  """Each regularizer's purpose as (claim, holds), checked against the plain autoencoder."""
  by = {r['method']: r for r in rows}
  if 'ae' not in by:
    return []
  ae, claims = by['ae'], []
  if 'sparse_ae' in by:
    sparse = by['sparse_ae']
    claims.append(('sparse_ae code is sparser than ae (smaller mean |z|, more inactive entries)',
                   sparse['mean_abs_code'] < ae['mean_abs_code']
                   and sparse['inactive_fraction'] > ae['inactive_fraction']))
  if 'contractive_ae' in by:
    claims.append(('contractive_ae has a smaller Jacobian than ae',
                   by['contractive_ae']['jacobian_norm'] < ae['jacobian_norm']))
  if 'denoising_ae' in by:
    claims.append(('denoising_ae reconstructs corrupted inputs better than ae',
                   by['denoising_ae']['recon_corrupted'] < ae['recon_corrupted']))
  return claims


def _figure_rows(state, x, x_corrupted, sample_key):
  variables = {'params': state.params}
  rows = [state.model.apply(variables, x, method='reconstruct'),
          state.model.apply(variables, x_corrupted, method='reconstruct')]
  if isinstance(state.model, models.VAE):
    rows.append(state.model.apply(variables, sample_key, len(x), method='sample'))
  return rows


def _write_csv(path, rows):
  text = io.StringIO()
  writer = csv.DictWriter(text, COLUMNS, extrasaction='ignore')
  writer.writeheader()
  writer.writerows(rows)
  files.write_atomic(path, text.getvalue())


def _markdown(config, rows, baseline):
  columns = (*COLUMNS, 'code_std')
  lines = ['# Autoencoders compared on the same data, budget and test inputs', '',
           f'{config.num_train_steps} steps of batch {config.batch_size} each, model '
           f'{config.model}, {config.latents}-d code, {config.likelihood} likelihood; '
           f'{config.num_test_examples} held-out test inputs, corruption {config.corruption} '
           f'(noise_std {config.noise_std}, drop_probability {config.drop_probability}).', '',
           '| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
  lines += ['| ' + ' | '.join([r['method']] + [f'{r[c]:.4g}' for c in columns[1:]]) + ' |'
            for r in rows]
  lines += ['', f'Identity baseline (the corrupted input itself as the prediction): '
            f'recon_corrupted = {baseline:.4g} nats.', '']
  lines += [f'- {claim}: {"yes" if holds else "NO"}' for claim, holds in effects(rows)]
  return '\n'.join(lines) + '\n'


def compare_autoencoders(config, workdir):
  """Trains each of `config.methods`, measures them; writes autoencoders.{csv,md} and a figure.

  Returns the rows (one dict per method, COLUMNS plus `code_std`).
  """
  configs = [method_config(config, m)
             for m in settings.parse_methods(config.methods, methods.NAMES)]
  dataset = None  # Every setting checked before anything is written; the source opened once.
  for method_cfg in configs:
    dataset = settings.check_config(method_cfg, dataset)
  if config.num_test_examples < _FIGURE_COLUMNS:
    raise UserInputError(f'--config.num_test_examples={config.num_test_examples} must be >= '
                         f'{_FIGURE_COLUMNS}')
  test_key, corruption_key, sample_key = jax.random.split(jax.random.key(config.test_seed), 3)
  x = jnp.asarray(dataset.sample(test_key, config.num_test_examples))
  x_corrupted = autoencoders.DenoisingAE.from_config(config).corrupt(corruption_key, x)
  rows, images, labels = [], [x[:_FIGURE_COLUMNS], x_corrupted[:_FIGURE_COLUMNS]], [
      'clean', 'corrupted']
  for method_cfg in configs:
    run = os.path.join(workdir, 'runs', method_cfg.method)
    loop.train_and_evaluate(method_cfg, run, dataset)
    _, _, state = run_directory.restore_run(run, dataset)
    rows.append({'method': method_cfg.method,
                 **measure(state, x, x_corrupted, config.eval_batch_size)})
    figure_rows = _figure_rows(state, x[:_FIGURE_COLUMNS], x_corrupted[:_FIGURE_COLUMNS],
                               sample_key)
    images += figure_rows
    labels += [f'{method_cfg.method}\n{name}' for name in
               ('recon', 'recon(corr.)', 'samples')[:len(figure_rows)]]
  baseline = identity_baseline(state.model.likelihood, x, x_corrupted)
  _write_csv(os.path.join(workdir, 'autoencoders.csv'), rows)
  files.write_atomic(os.path.join(workdir, 'autoencoders.md'), _markdown(config, rows, baseline))
  plotting.save_image_grid(os.path.join(workdir, 'figures', 'autoencoders.png'),
                           np.stack([np.asarray(r) for r in images]),
                           'reconstructions of the same clean and corrupted test images',
                           row_labels=labels)
  return rows
