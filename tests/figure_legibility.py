"""Whether a figure reads at its saved size, measured on the figure as `vae.plotting` saves it.

Three rules, each a number:
  - every visible text is at least `MIN_POINTS` pt (at the saved DPI a point is DPI/72 pixels, so
    this is the text's height on the PNG);
  - every number written in a heat map's cell fits inside that cell;
  - at most `MAX_EMPTY` of the canvas lies outside every panel's drawn extent (its axes with their
    ticks, labels and title, or an image's own extent) and every figure-level text;
and one that keeps the first rule true of images drawn into a figure: a raster (a saved figure
shown inside another) is never drawn smaller than its own pixels.

`recording()` wraps `vae.plotting._save` so that a test collects the problems of every figure the
library saves while it runs.
"""

import contextlib
import dataclasses
import os

import matplotlib.image
import matplotlib.text
import numpy as np

from vae import plotting

MIN_POINTS = 7.0
MAX_EMPTY = 0.30


@dataclasses.dataclass
class Legibility:
  smallest_points: float
  cells_overflowing: list
  empty_share: float
  smallest_raster_scale: float

  def problems(self):
    found = []
    if self.smallest_points < MIN_POINTS:
      found.append(f'text of {self.smallest_points:g} pt < {MIN_POINTS:g} pt')
    if self.cells_overflowing:
      found.append(f'numbers wider or taller than their cells: {self.cells_overflowing[:3]}')
    if self.empty_share > MAX_EMPTY:
      found.append(f'{100 * self.empty_share:.0f} % of the canvas empty > '
                   f'{100 * MAX_EMPTY:.0f} %')
    if self.smallest_raster_scale < 1.0 - 1e-3:
      found.append(f'a raster drawn at {self.smallest_raster_scale:.2f} of its pixels')
    return found


def _visible_texts(fig):
  return [t for t in fig.findobj(matplotlib.text.Text)
          if t.get_visible() and t.get_text().strip() and t.figure is fig
          and all(a.get_visible() for a in _ancestors(t))]


def _ancestors(artist):
  axes = artist.axes
  return [axes] if axes is not None else []


def _overflowing_cells(ax, renderer):
  """Texts in `ax` written on a 2-D image's cells that do not fit their cell."""
  images = [i for i in ax.get_images() if np.ndim(i.get_array()) == 2]
  if len(images) != 1 or not ax.texts:
    return []
  rows, cols = np.shape(images[0].get_array())
  extent = images[0].get_window_extent(renderer)
  cell_w, cell_h = abs(extent.width) / cols, abs(extent.height) / rows
  return [t.get_text() for t in ax.texts if t.get_visible()
          and (t.get_window_extent(renderer).width > cell_w
               or t.get_window_extent(renderer).height > cell_h)]


def _raster_scales(fig, renderer):
  """Drawn pixels over own pixels of every RGB(A) image shown in the figure."""
  scales = []
  for ax in fig.axes:
    for image in ax.get_images():
      array = image.get_array()
      if np.ndim(array) == 3:
        extent = image.get_window_extent(renderer)
        scales.append(min(abs(extent.width) / array.shape[1], abs(extent.height) / array.shape[0]))
  return scales


def _empty_share(fig, renderer):
  width, height = (int(round(v)) for v in fig.bbox.size)
  covered = np.zeros((height, width), bool)
  boxes = []
  for ax in fig.axes:
    if ax.get_visible():
      box = ax.get_tightbbox(renderer)
      if box is not None and box.width > 0 and box.height > 0:
        boxes.append(box)
  boxes += [t.get_window_extent(renderer) for t in fig.texts if t.get_visible() and t.get_text()]
  for box in boxes:
    x0, x1 = (int(np.clip(v, 0, width)) for v in (box.x0, box.x1))
    y0, y1 = (int(np.clip(v, 0, height)) for v in (box.y0, box.y1))
    covered[y0:y1, x0:x1] = True
  return 1.0 - covered.mean()


def measure(fig):
  fig.canvas.draw()
  renderer = fig.canvas.get_renderer()
  texts = _visible_texts(fig)
  return Legibility(
      smallest_points=min((t.get_fontsize() for t in texts), default=np.inf),
      cells_overflowing=[c for ax in fig.axes for c in _overflowing_cells(ax, renderer)],
      empty_share=_empty_share(fig, renderer),
      smallest_raster_scale=min(_raster_scales(fig, renderer), default=np.inf))


@contextlib.contextmanager
def recording(monkeypatch):
  """Yields {path: problems} of every figure `vae.plotting` saves inside the block."""
  found = {}
  save = plotting._save

  def measured_save(fig, path):
    found[path] = measure(fig).problems()
    save(fig, path)

  monkeypatch.setattr(plotting, '_save', measured_save)
  yield found
