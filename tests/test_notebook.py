"""notebooks/explore_sweep.ipynb: committed without outputs, and run headless on a tiny finished
sweep, it shows what it promises (tables of the sweep's models, one model restored, figures)."""

import json
import os

import pytest

from tests import ROOT
from tests import run_files
from vae.studies import sweep

NOTEBOOK = os.path.join(ROOT, 'notebooks', 'explore_sweep.ipynb')
KERNEL = 'vae-notebook-test'
# Appended to the executed notebook: what its variables hold, printed as JSON.
REPORT_CELL = """import json
print(json.dumps({
    'summary': sorted(zip(summary.strength.tolist(), summary.seed.tolist())),
    'scores': sorted(zip(scores.strength.tolist(), scores.seed.tolist())),
    'metrics': sorted({(b, s) for b, s in zip(metrics.strength, metrics.seed)}),
    'restored': [float(run['strength']), int(run['seed']), int(state.step)],
    'traversals': list(traversals.shape), 'values': [float(v) for v in VALUES],
}))"""


def _code_cells(notebook):
  return [c for c in notebook['cells'] if c['cell_type'] == 'code']


def test_the_committed_notebook_has_no_outputs():
  with open(NOTEBOOK) as f:
    notebook = json.load(f)
  assert [(c['outputs'], c['execution_count']) for c in _code_cells(notebook)] == (
      [([], None)] * len(_code_cells(notebook)))


def _images(cell):
  return [o for o in cell.outputs if 'image/png' in o.get('data', {})]


@pytest.mark.slow  # A sweep trained and scored, then the notebook run in a kernel: about 1 min.
def test_the_notebook_explores_a_finished_sweep(tmp_path, monkeypatch):
  try:
    import nbclient
    import nbformat
    from ipykernel import kernelspec
  except ImportError as error:
    pytest.fail(f'{error}: the notebook test needs `pip install -r requirements-notebook.txt`')
  config, workdir = run_files.sweep_config(), str(tmp_path / 'sweep')
  sweep.run(config, workdir)
  # A kernel spec of this interpreter's ipykernel, found before any other the machine has.
  monkeypatch.setenv('JUPYTER_PATH', str(tmp_path / 'share' / 'jupyter'))
  kernelspec.install(kernel_name=KERNEL, prefix=str(tmp_path))
  monkeypatch.setenv('VAE_SWEEP_WORKDIR', workdir)
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
  # Started where Jupyter starts it: beside the notebook.
  nbclient.NotebookClient(notebook, kernel_name=KERNEL, timeout=600,
                          resources={'metadata': {'path': os.path.dirname(NOTEBOOK)}}).execute()

  cells = _code_cells(notebook)
  report = json.loads(cells[-1].outputs[-1]['text'])
  models = [[float(b), 0] for b in config.betas.split(',')]
  assert report['summary'] == report['scores'] == report['metrics'] == models
  assert report['restored'] == [8.0, 0, config.num_train_steps]
  assert report['traversals'] == [4, 21, 64, 64, 1]
  assert report['values'] == pytest.approx([-3.0 + 0.3 * i for i in range(21)], abs=1e-6)
  # The reconstructions, the traversal and the scatter plot.
  assert [len(_images(c)) for c in cells[-4:-1]] == [1, 1, 1]
