"""Every figure `vae.plotting` draws reads at its saved size (`tests.figure_legibility`), on inputs
of the sizes a study gives it; and the measurement itself catches each way a figure fails."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from tests import figure_legibility
from vae import plotting
from vae.studies import score_families


def _problems(draw, tmp_path, monkeypatch):
  with figure_legibility.recording(monkeypatch) as found:
    draw(str(tmp_path))
  assert found
  return {path: problems for path, problems in found.items() if problems}


def test_each_failure_is_measured():
  fig, axes = plt.subplots(1, 3, figsize=(9, 3))
  axes[0].set_title('small', fontsize=5)
  axes[1].imshow(np.zeros((20, 20)))
  axes[1].text(0, 0, '0.123456', fontsize=9)  # One cell is 1/20 of the panel: no room.
  axes[2].imshow(np.zeros((400, 400, 3)))  # 400 pixels drawn in about 200.
  result = figure_legibility.measure(fig)
  assert result.smallest_points == 5
  assert result.cells_overflowing == ['0.123456']
  assert result.smallest_raster_scale < 0.7
  plt.close(fig)
  fig, ax = plt.subplots(figsize=(8, 8))
  fig.subplots_adjust(left=0.45, right=0.55, bottom=0.45, top=0.55)  # One panel in the middle.
  ax.set_xticks([])
  ax.set_yticks([])
  assert figure_legibility.measure(fig).empty_share == pytest.approx(0.99, abs=0.01)
  assert len(figure_legibility.measure(fig).problems()) == 1
  plt.close(fig)


def _scores(count, rng):
  return {f'score_{i}': {b: list(rng.uniform(size=4)) for b in (0.0, 1.0, 4.0, 16.0)}
          for i in range(count)}


@pytest.mark.parametrize('count', [1, 7, 30])
def test_strength_curves_and_seed_variation(count, tmp_path, monkeypatch):
  rng = np.random.default_rng(0)
  curves = _scores(count, rng)

  def draw(directory):
    plotting.save_strength_curves(f'{directory}/curves.png', curves, 'β',
                                  {n: f'Fairness: {n}' for n in curves})
    plotting.save_seed_variation(f'{directory}/seeds.png',
                                 {n: (v, 0.5) for n, v in curves.items()}, 'β')

  assert not _problems(draw, tmp_path, monkeypatch)


@pytest.mark.parametrize('latents,factors,strengths', [(10, 5, 1), (10, 5, 2), (6, 3, 5),
                                                       (20, 6, 3)])
def test_factor_latent_matrices(latents, factors, strengths, tmp_path, monkeypatch):
  rng = np.random.default_rng(1)
  names = ['shape', 'scale', 'orientation', 'pos_x', 'pos_y', 'color'][:factors]
  result = {'factors': names,
            'abs_spearman': rng.uniform(size=(factors, latents)).tolist(),
            'normalized_mutual_information': rng.uniform(size=(factors, latents)).tolist(),
            'encoding': {n: {'verdict': 'not encoded', 'latents': []} for n in names}}

  def draw(directory):
    plotting.save_factor_latent(f'{directory}/one.png', result)
    plotting.save_factor_latent_by_strength(
        f'{directory}/by_strength.png', {f'β = {b} (seed 0)': result for b in range(strengths)})

  assert not _problems(draw, tmp_path, monkeypatch)


@pytest.mark.parametrize('count', [2, 45])
def test_correlation_heat_map(count, tmp_path, monkeypatch):
  names = [f'fairness_max_fairness_max_pred_{i}' for i in range(count)]
  matrix = -np.ones((count, count))  # '-1.00', the widest number it writes.

  def draw(directory):
    plotting.save_correlation_heatmap(f'{directory}/rho.png', names, matrix, 'Spearman ρ')

  assert not _problems(draw, tmp_path, monkeypatch)


def test_side_by_side_draws_each_figure_at_its_own_size(tmp_path, monkeypatch):
  rng = np.random.default_rng(2)
  parts = {}
  for b in (1, 8, 16):
    path = str(tmp_path / f'traversals_{b}.png')
    plotting.save_traversals(path, rng.uniform(size=(10, 7, 64, 64, 1)), np.linspace(-2, 2, 7),
                             rng.uniform(size=10))
    parts[f'β = {b} (seed 0)'] = path

  def draw(directory):
    plotting.save_side_by_side(f'{directory}/side.png', parts)

  assert not _problems(draw, tmp_path, monkeypatch)
  side, first = plt.imread(str(tmp_path / 'side.png')), plt.imread(parts['β = 1 (seed 0)'])
  assert side.shape[1] == 3 * first.shape[1] + 2 * 12  # Three figures and two gaps, unscaled.


def test_scatter_panels(tmp_path, monkeypatch):
  rng = np.random.default_rng(3)
  headline = [n for n, _ in score_families.HEADLINE if n != 'udr']
  rows = [{'strength': b, 'seed': s, 'recon': rng.uniform(100, 200), 'udr': rng.uniform(),
           **{n: rng.uniform() for n in headline}} for b in (1.0, 2.0, 4.0, 8.0) for s in range(4)]

  def draw(directory):
    plotting.save_udr_vs_scores(f'{directory}/udr.png', rows, [(n, n) for n in headline], 'β')
    plotting.save_method_tradeoff(f'{directory}/methods.png',
                                  {'beta_vae': rows[:8], 'factor_vae': rows[8:]},
                                  [(n, n) for n in headline[:5]])

  assert not _problems(draw, tmp_path, monkeypatch)


@pytest.mark.parametrize('latents,values,size,channels', [(10, 7, 64, 1), (1, 5, 28, 1),
                                                          (3, 9, 64, 3)])
def test_image_grids(latents, values, size, channels, tmp_path, monkeypatch):
  rng = np.random.default_rng(4)
  images = rng.uniform(size=(latents, values, size, size, channels))

  def draw(directory):
    plotting.save_traversals(f'{directory}/traversals.png', images, np.linspace(-2, 2, values),
                             rng.uniform(size=latents))
    plotting.save_reconstructions(f'{directory}/reconstructions.png', images[0], images[0])
    plotting.save_samples(f'{directory}/samples.png', rng.uniform(size=(16, size, size, channels)))
    plotting.save_image_grid(f'{directory}/one.png', images[:1, :1],
                             'a title wider than the image under it')

  assert not _problems(draw, tmp_path, monkeypatch)
