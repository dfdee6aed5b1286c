"""`python -m experiments.sheet_answers` prints the exercise sheet's numbers (docs/exercise_sheet.md).

The entry point runs as a user runs it; every printed number is checked against a reference that
does not go through the library: a closed form worked by hand (in float64 numpy) or scipy.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.special
import scipy.stats

from tests import ROOT

_TOL = dict(rtol=1e-5, atol=1e-5)  # float32 results printed with 7 significant digits.
_P5 = np.array([0.36, 0.48, 0.16])
_EPS7 = np.array([0.5, 0.0, -0.5])

# Question 7 by hand. Encoder at x = 2: u = ReLU(2·ReLU(5)) = 10, Σ = ReLU(ReLU(7) + 1) = 8.
# Decoder: u_θ(z) = ReLU(12 − z), Σ_θ(z) = ReLU(2z − 10); at z = 14 the first ReLU clips to 0.
_Z = {'variance': 10 + math.sqrt(8) * _EPS7, 'std': 10 + 8 * _EPS7}
_DEC_MEAN = {r: np.maximum(12 - z, 0) for r, z in _Z.items()}
_DEC_SIGMA = {r: np.maximum(2 * z - 10, 0) for r, z in _Z.items()}
_DEC_VAR = {'variance': _DEC_SIGMA['variance'], 'std': _DEC_SIGMA['std'] ** 2}
_ENC_VAR = {'variance': 8.0, 'std': 64.0}


@pytest.fixture(scope='module')
def answers():
  result = subprocess.run([sys.executable, '-m', 'experiments.sheet_answers'], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  lines = [line for line in result.stdout.splitlines() if line.strip()]
  parsed = {}
  for line in lines:
    label, values = line.rsplit(': ', 1)
    assert label.startswith('q') and label not in parsed, line
    parsed[label] = np.array([float(v) for v in values.split(', ')])
  return parsed


def test_every_question_with_numbers_is_answered(answers):
  questions = {label.split()[0][:2] for label in answers}
  assert questions == {'q3', 'q4', 'q5', 'q6', 'q7'}


@pytest.mark.parametrize('reading', ['variance', 'std'])
def test_q3_loss_terms(answers, reading):
  # −log N(2; u_θ(z), var) by scipy.stats.norm; KL(N(10, v) ‖ N(0, 1)) = ½(μ² + v − 1 − ln v).
  recon = -scipy.stats.norm.logpdf(2.0, _DEC_MEAN[reading], np.sqrt(_DEC_VAR[reading]))
  np.testing.assert_allclose(
      answers[f'q3 -log p(x = 2 | z) for the z of q7a, Sigma read as {reading}'], recon, **_TOL)
  v = _ENC_VAR[reading]
  np.testing.assert_allclose(answers[f'q3 KL(q(z | x = 2)||N(0, 1)), Sigma read as {reading}'],
                             [0.5 * (100 + v - 1 - math.log(v))], **_TOL)


def test_q4_bernoulli_kl(answers):
  # The sheet's formula p ln(p/q) + (1 − p) ln((1 − p)/(1 − q)), by hand.
  forward = 0.3 * math.log(0.3 / 0.5) + 0.7 * math.log(0.7 / 0.5)
  backward = 0.5 * math.log(0.5 / 0.3) + 0.5 * math.log(0.5 / 0.7)
  np.testing.assert_allclose(answers['q4 KL(Bern(0.3)||Bern(0.5))'], [forward], **_TOL)
  np.testing.assert_allclose(answers['q4 KL(Bern(0.5)||Bern(0.3))'], [backward], **_TOL)
  np.testing.assert_allclose(
      answers['q4 KL of the two-category distributions (0.3, 0.7)||(0.5, 0.5)'], [forward],
      **_TOL)


@pytest.mark.parametrize('name, q', [('1/3', 1 / 3), ('0.333 as printed', 0.333)])
def test_q5_discrete_kl(answers, name, q):
  # scipy.stats.entropy(p, q) = Σ p ln(p/q); scipy.special.rel_entr does not renormalize Q.
  q = np.full(3, q)
  np.testing.assert_allclose(answers[f'q5 KL(P||Q), Q = {name}'],
                             [scipy.special.rel_entr(_P5, q).sum()], **_TOL)
  np.testing.assert_allclose(answers[f'q5 KL(Q||P), Q = {name}'],
                             [scipy.special.rel_entr(q, _P5).sum()], **_TOL)
  if name == '1/3':  # The sheet's printed answers, and the asymmetry it asks to verify.
    np.testing.assert_allclose(scipy.stats.entropy(_P5, q), 0.0852996, rtol=1e-6)
    np.testing.assert_allclose(scipy.stats.entropy(q, _P5), 0.097455, rtol=1e-6)
    assert abs(answers[f'q5 KL(P||Q), Q = {name}'][0] - 0.0852996) < 1e-6
    assert abs(answers[f'q5 KL(Q||P), Q = {name}'][0] - 0.097455) < 1e-6


def test_q6_reparameterized_sample_and_its_gradients(answers):
  # z = u + √Σ·ε with u = 10, Σ = 8; ∂z/∂u = 1 and ∂z/∂log Σ = ½√Σ·ε, by hand.
  eps = answers['q6 eps drawn from N(0, 1)'][0]
  np.testing.assert_allclose(answers['q6 z = u + Sigma^(1/2) eps at x = 2 (u = 10, Sigma = 8)'],
                             [10 + math.sqrt(8) * eps], **_TOL)
  np.testing.assert_allclose(answers['q6 dz/du, dz/dlog Sigma'],
                             [1.0, 0.5 * math.sqrt(8) * eps], **_TOL)


@pytest.mark.parametrize('reading', ['variance', 'std'])
def test_q7_toy_vae(answers, reading):
  np.testing.assert_allclose(answers['q7a u_phi(2), Sigma_phi(2)'], [10.0, 8.0], **_TOL)
  suffix = f'Sigma read as {reading}'
  np.testing.assert_allclose(answers[f'q7a z for eps = 0.5, 0, -0.5, {suffix}'], _Z[reading],
                             **_TOL)
  np.testing.assert_allclose(answers[f'q7b u_theta(z), {suffix}'], _DEC_MEAN[reading], **_TOL)
  np.testing.assert_allclose(answers[f'q7b Sigma_theta(z), {suffix}'], _DEC_SIGMA[reading],
                             **_TOL)
  eps = answers[f'q7b eps drawn for x, {suffix}']
  np.testing.assert_allclose(answers[f'q7b x ~ N(u_theta(z), Sigma_theta(z)), {suffix}'],
                             _DEC_MEAN[reading] + np.sqrt(_DEC_VAR[reading]) * eps, **_TOL)


def test_q7_std_reading_is_the_sheets_printed_answer(answers):
  # The sheet prints z = (14, 10, 6), u_θ = (0, 2, 6), Σ_θ = (18, 10, 2).
  np.testing.assert_allclose(answers['q7a z for eps = 0.5, 0, -0.5, Sigma read as std'],
                             [14, 10, 6], **_TOL)
  np.testing.assert_allclose(answers['q7b u_theta(z), Sigma read as std'], [0, 2, 6], **_TOL)
  np.testing.assert_allclose(answers['q7b Sigma_theta(z), Sigma read as std'], [18, 10, 2],
                             **_TOL)
