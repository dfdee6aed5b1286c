"""The stop-latency benchmark's arithmetic (benchmarks/stop_latency.py), on hand-made times."""

from benchmarks import stop_latency


def test_each_gap_goes_to_the_stage_of_the_point_that_starts_it():
  points = [(0.0, 'training'), (1.0, 'training'), (4.0, 'estimating log p(x)'),
            (4.5, 'estimating log p(x)'), (6.0, 'drawing the figures'), (6.5, 'scoring mig'),
            (6.6, 'estimating log p(x)'), (7.0, 'done')]
  # By hand: training's gaps 1 and 3 s; log p(x)'s 0.5, 1.5 and (back again) 0.4 s; the
  # figures' 0.5 s; mig's 0.1 s. Stages keep the order of their first point.
  expected = [('training', 2, 4.0, 3.0), ('estimating log p(x)', 3, 2.4, 1.5),
              ('drawing the figures', 1, 0.5, 0.5), ('scoring mig', 1, 0.1, 0.1)]
  for row, want in zip(stop_latency.gaps(points), expected, strict=True):
    assert row[:2] == want[:2]
    assert abs(row[2] - want[2]) < 1e-12 and abs(row[3] - want[3]) < 1e-12
