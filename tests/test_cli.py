"""The entry points: one-line errors with a non-zero exit, and a run that writes its outputs."""

import errno
import os
import re
import resource
import shutil
import signal
import subprocess
import sys

import pytest

from experiments import cli
from vae import methods
from vae.errors import Interrupted
from vae.errors import UserInputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_CONFIG = '--config=experiments/configs/test.py'

# Config files that fail in each way a hand-written one can.
_BAD_FILES = {
    'syntax.py': 'def get_config(:\n',
    'no_get_config.py': 'SEED = 0\n',
    'raises.py': 'def get_config():\n  raise ValueError("boom")\n',
    'bad_import.py': 'import no_such_module_for_the_test\n',
}

# A stand-in for experiments/train.py's flags that imports no JAX: the config-file cases cost
# a fifth of a second each instead of an entry point's five.
_LIGHT_TRAIN = """
import os
from absl import flags
from ml_collections import config_flags
from experiments import cli
config_flags.DEFINE_config_file('config', None, 'A config file.')
flags.DEFINE_string('workdir', None, 'Created by main.')
flags.mark_flags_as_required(['config', 'workdir'])
cli.main(lambda argv: os.makedirs(flags.FLAGS.workdir))
"""

# (entry point, arguments, returncode, the last stderr line); {bad} is the bad files' directory;
# entry point None is _LIGHT_TRAIN. Each real entry point is run at least once.
_CASES = {
    'unknown_setting': ('train', (TEST_CONFIG, '--config.no_such_setting=1'), 2,
                        "error: --config.no_such_setting=1: the config has no setting "
                        "'no_such_setting'"),
    'missing_file': ('train', ('--config=experiments/configs/nope.py',), 2,
                     'error: --config=experiments/configs/nope.py: no such file'),
    'sweep_unknown_setting': (
        'sweep_beta', ('--config=experiments/configs/sweep_test.py', '--config.nope=1'), 2,
        "error: --config.nope=1: the config has no setting 'nope'"),
    'compare_missing_file': ('compare_autoencoders', ('--config=nope.py',), 2,
                             'error: --config=nope.py: no such file'),
    # The settings check, before anything is written.
    'negative_beta': ('train', (TEST_CONFIG, '--config.beta=-1'), 1,
                      'error: --config.beta=-1.0 must be >= 0'),
    'sweep_unknown_method': (
        'sweep_beta', ('--config=experiments/configs/sweep_test.py', '--config.method=vq_vae'), 1,
        "error: unknown method 'vq_vae' (--config.method); allowed: " + ', '.join(methods.NAMES)),
    'compare_methods_negative_strength': (
        'compare_methods', ('--config=experiments/configs/methods_test.py',
                            '--config.method_strengths.factor_vae=-1,2'), 1,
        "error: --config.method_strengths.factor_vae='-1,2' must list one or more gamma >= 0"),
    'weak_method_k_out_of_range': (
        'train', (TEST_CONFIG, '--config.method=ada_gvae', '--config.num_changed_factors=5'), 1,
        "error: --config.num_changed_factors='5' must be 'rnd' or an integer in 1 … 4 "
        '(--config.dataset=procedural_dsprites has 5 factors)'),
    'zero_importance_samples': ('train', (TEST_CONFIG, '--config.num_importance_samples=0'), 1,
                                'error: --config.num_importance_samples=0 must be a positive '
                                'integer'),
    # Refused before tracing: the step's program has a named scalar per latent.
    'huge_latents': ('train', (TEST_CONFIG, '--config.latents=1000000'), 1,
                     'error: --config.latents=1000000 must be at most 1024 (one logged '
                     'kl_per_dim/i and one traversal row per latent)'),
    'stray_argument': ('train', (TEST_CONFIG, 'extra_arg'), 2,
                       "error: unexpected argument 'extra_arg': every setting is a flag, "
                       '--NAME=VALUE (--help lists them)'),
    'unknown_model': ('train', (TEST_CONFIG, '--config.model=resnet'), 1,
                      "error: unknown model 'resnet' (--config.model); allowed: conv, mlp, chen_mlp"),
    'unknown_nested_setting': (
        None, (TEST_CONFIG, '--config.disentanglement.nope', '3'), 2,
        "error: --config.disentanglement.nope=3: the config has no setting 'disentanglement.nope'"),
    'missing_file_with_override': (
        None, ('--config=experiments/configs/nope.py', '--config.beta=2'), 2,
        'error: --config=experiments/configs/nope.py: no such file'),
    'directory': (None, ('--config={bad}',), 2,
                  'error: --config={bad}: is a directory, not a config file'),
    'syntax_error': (None, ('--config={bad}/syntax.py',), 2,
                     'error: --config={bad}/syntax.py: SyntaxError: invalid syntax (line 1)'),
    'no_get_config': (None, ('--config={bad}/no_get_config.py',), 2,
                      'error: --config={bad}/no_get_config.py: the file defines no get_config()'),
    'get_config_raises': (None, ('--config={bad}/raises.py',), 2,
                          'error: --config={bad}/raises.py: get_config() raised ValueError: boom'),
    'file_raises': (None, ('--config={bad}/bad_import.py',), 2,
                    'error: --config={bad}/bad_import.py: the file raised ModuleNotFoundError: No '
                    "module named 'no_such_module_for_the_test'"),
    'bad_value': (None, (TEST_CONFIG, '--config.latents=abc'), 2,
                  "error: --config.latents=abc: invalid literal for int() with base 10: 'abc'"),
    'override_before_config': (None, ('--config.latents=3', TEST_CONFIG), 2,
                               'error: --config.latents=3: comes before --config; give '
                               '--config=FILE first'),
}

# Entry points without a config: (entry point, arguments, the last stderr line).
_FLAG_CASES = {
    'evaluate_no_workdir': ('evaluate', (), 'error: --workdir is required'),
    'report_unknown_flag': ('report', ('--workdri=x',),
                            'error: --workdri: no such flag; did you mean --workdir?'),
    'benchmark_bad_value': ('benchmark', ('--repeats=abc',),
                            "error: --repeats=abc: invalid literal for int() with base 10: 'abc'"),
}


def _command(module, *args):
  if module is None:
    return [sys.executable, '-c', _LIGHT_TRAIN, *args]
  return [sys.executable, '-m', f'experiments.{module}', *args]


def _run(*args):
  return subprocess.run(_command('train', *args), cwd=ROOT, capture_output=True, text=True,
                        timeout=300)


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  """(bad files' directory, {case: (returncode, stderr, workdir)}); all started at once."""
  bad = tmp_path_factory.mktemp('bad_configs')
  for name, text in _BAD_FILES.items():
    (bad / name).write_text(text)
  runs = {}
  for case, (module, args, _, _) in _CASES.items():
    workdir = tmp_path_factory.mktemp(case) / 'run'
    args = [a.format(bad=bad) for a in args] + [f'--workdir={workdir}']
    runs[case] = (subprocess.Popen(_command(module, *args), cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True), workdir)
  for case, (module, args, _) in _FLAG_CASES.items():
    runs[case] = (subprocess.Popen(_command(module, *args), cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True), None)
  results = {}
  for case, (process, workdir) in runs.items():
    _, stderr = process.communicate(timeout=300)
    results[case] = (process.returncode, stderr, workdir)
  return bad, results


@pytest.mark.parametrize('case', sorted(_CASES))
def test_bad_command_line_is_one_line_and_non_zero(finished, case):
  bad, results = finished
  returncode, stderr, workdir = results[case]
  _, _, expected_code, message = _CASES[case]
  assert 'Traceback' not in stderr
  assert stderr.strip().splitlines()[-1] == message.format(bad=bad), stderr
  assert returncode == expected_code
  assert not workdir.exists()


@pytest.mark.parametrize('case', sorted(_FLAG_CASES))
def test_bad_flag_of_other_entry_points_is_one_line(finished, case):
  returncode, stderr, _ = finished[1][case]
  assert 'Traceback' not in stderr
  assert stderr.strip().splitlines() == [_FLAG_CASES[case][2]]
  assert returncode == 2


def test_an_infinite_beta_names_beta(tmp_path):
  # Accepted by the settings check (a sweep may hold a deliberately diverging member); the
  # divergence then names the setting at fault, not the learning rate.
  result = _run(TEST_CONFIG, '--config.beta=inf', f'--workdir={tmp_path / "run"}')
  assert 'Traceback' not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      'error: non-finite loss inf before step 2: --config.beta=inf multiplies a loss term; use a '
      'finite beta')
  assert result.returncode == 1


def test_help_still_works():
  result = subprocess.run(_command(None, '--helpshort'), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
  assert 'Created by main.' in result.stdout + result.stderr
  assert 'error:' not in result.stderr


def _raise(error):
  raise error


@pytest.mark.parametrize('error,code,message', [
    (UserInputError('--config.x=1 must be 2'), 'error: --config.x=1 must be 2', None),
    (Interrupted(signal.SIGTERM, 'SIGTERM: saved at step 4; re-run to resume'), 143,
     'SIGTERM: saved at step 4; re-run to resume'),
    (Interrupted(signal.SIGINT, 'SIGINT: saved'), 130, 'SIGINT: saved'),
    (OSError(errno.EROFS, 'Read-only file system', '/runs/a/metrics.jsonl'),
     'error: cannot write /runs/a/metrics.jsonl: Read-only file system', None),
    (PermissionError(errno.EACCES, 'Permission denied', '/runs'),
     'error: cannot write /runs: Permission denied', None),
    (OSError('mallopt failed'), 'error: mallopt failed', None),
])
def test_run_turns_errors_into_one_line_and_an_exit_code(restored_signals, capsys, error, code,
                                                         message):
  with pytest.raises(SystemExit) as exit_info:
    cli.run(_raise, error)
  assert exit_info.value.code == code
  if message is not None:  # Printed by cli.run itself, not as the exit's message.
    assert capsys.readouterr().err == message + '\n'


def test_a_full_disk_names_the_free_space(restored_signals, tmp_path):
  path = tmp_path / 'run' / 'metrics.jsonl'  # Its directory is gone: the nearest one counts.
  with pytest.raises(SystemExit) as exit_info:
    cli.run(_raise, OSError(errno.ENOSPC, 'No space left on device', str(path)))
  match = re.fullmatch(rf'error: cannot write {re.escape(str(path))}: No space left on device '
                       r'\(([0-9,]+) bytes free\)', exit_info.value.code)
  assert match
  # The free space as statvfs reports it (shutil.disk_usage), give or take other writers.
  free = int(match.group(1).replace(',', ''))
  assert abs(free - shutil.disk_usage(tmp_path).free) < 2**24


def test_a_file_over_the_size_limit_names_the_limit(restored_signals):
  soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
  resource.setrlimit(resource.RLIMIT_FSIZE, (123_456, hard))
  try:
    with pytest.raises(SystemExit) as exit_info:
      cli.run(_raise, OSError(errno.EFBIG, 'File too large', '/runs/a/metrics.jsonl'))
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
  assert exit_info.value.code == ('error: cannot write /runs/a/metrics.jsonl: File too large '
                                  '(the file-size limit is 123,456 bytes)')


def test_run_installs_the_stop_request_handlers(restored_signals):
  handlers = cli.run(lambda: [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)])
  assert all(h not in (signal.SIG_DFL, signal.default_int_handler) for h in handlers)


def test_test_config_runs_and_a_finished_run_is_left_alone(tmp_path):
  workdir = tmp_path / 'run'
  args = (TEST_CONFIG, f'--workdir={workdir}')
  first = _run(*args)
  assert first.returncode == 0, first.stderr
  assert 'final eval' in first.stderr
  second = _run(*args)  # Finished: nothing is trained again.
  assert second.returncode == 0, second.stderr
  assert f'{workdir} is complete at step 4: nothing to do' in second.stderr

