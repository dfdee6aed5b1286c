"""Reading a compiled program's collectives (vae/readiness/collectives.py).

The HLO lines are as XLA prints them (copied from programs compiled on 8 simulated CPU devices
and for H100 × 8); each expected value is worked out by hand from the line, named beside it.
"""

from vae.readiness import collectives

# A (4, 2) mesh's gradient all-reduce: groups {0,1}, {2,3}, {4,5}, {6,7}, each inside one
# `models` row (device i is row i // 2), over a tuple of 3 × 5 + 64 + 1 elements.
_WITHIN_ROWS = ('  %all-reduce.528 = (f32[3,5]{1,0}, f32[64]{0}, f32[]) all-reduce(%a, %b, %c), '
                'channel_id=1, replica_groups=[4,2]<=[8], use_global_device_ids=true, '
                'to_apply=%add')
# The same groups transposed: {0,2,4,6}, {1,3,5,7}, each spanning rows 0 … 3.
_ACROSS_ROWS = ('  %all-gather.3 = f32[512,8,8,64]{3,2,1,0} all-gather(%x), channel_id=2, '
                'replica_groups=[2,4]<=[4,2]T(1,0), dimensions={0}, use_global_device_ids=true')
_LISTED = ('  %all-to-all = f32[8,16]{1,0} all-to-all(%y), channel_id=3, '
           'replica_groups={{0,1},{2,3},{4,5},{6,7}}, dimensions={0}')
_PERMUTE = ('  %collective-permute-start.1 = (f32[8]{0}, f32[8]{0}) collective-permute-start(%z), '
            'channel_id=4, source_target_pairs={{0,2},{2,0}}')
# An instruction whose name, not its op, is a collective's, and a fusion calling one's output.
_NOT_COLLECTIVES = ('  %all-reduce.1.bitcast = f32[64]{0} bitcast(%all-reduce.528)\n'
                    '  %fusion = f32[64]{0} fusion(%all-gather.3), kind=kLoop')


def test_counts_ops_not_names():
  hlo = '\n'.join([_WITHIN_ROWS, _ACROSS_ROWS, _LISTED, _PERMUTE, _NOT_COLLECTIVES])
  assert collectives.counts(hlo) == {'all-reduce': 1, 'all-gather': 1, 'all-to-all': 1,
                                     'collective-permute': 1}
  assert collectives.counts(_NOT_COLLECTIVES) == {}


def test_all_reduced_elements_sums_a_tuple():
  assert collectives.all_reduced_elements(_WITHIN_ROWS) == 3 * 5 + 64 + 1
  assert collectives.all_reduced_elements(_ACROSS_ROWS) == 0  # Not an all-reduce.


def test_groups_within_and_across_models():
  # (4, 2): rows {0,1}, {2,3}, ... The iota groups stay in a row; the transposed ones cross.
  assert collectives.across_models(_WITHIN_ROWS, (4, 2)) == {}
  assert collectives.across_models(_ACROSS_ROWS, (4, 2)) == {'all-gather': 1}
  # On (2, 4) rows are {0..3}, {4..7}: pairs {0,1} … stay inside; {0,2},{2,0} too.
  assert collectives.across_models(_LISTED, (2, 4)) == {}
  assert collectives.across_models(_PERMUTE, (2, 4)) == {}
  # On (8, 1) every device is its own row: any group of two crosses.
  assert collectives.across_models(_LISTED, (8, 1)) == {'all-to-all': 1}
  assert collectives.across_models(_PERMUTE, (8, 1)) == {'collective-permute': 1}


def test_an_op_without_groups_spans_every_device():
  line = '  %all-reduce.2 = f32[4]{0} all-reduce(%g), channel_id=5, to_apply=%add'
  assert collectives.across_models(line, (2, 4)) == {'all-reduce': 1}
  assert collectives.across_models(line, (1, 8)) == {}
