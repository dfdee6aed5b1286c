"""The report of a study that shards trained (`vae.studies.shards`): `experiments.report` on a
workdir that holds `shards/`.

It reads the study's config that the shards recorded (the newest, so a grown study's), takes the
workdir's lock (one report at a time; shards never take it), and writes what the study would
have written at its end: each sweep's UDR and summary over every finished member, and for a
comparison its table, with the members not finished or not begun yet listed as excluded.
"""

import os

import ml_collections

from vae import files
from vae import settings
from vae.studies import method_comparison
from vae.studies import shards
from vae.studies import sweep


def study_config(workdir):
  """The study's config, as its newest shard recorded it, or None where no shard ran."""
  recorded = shards.studies(workdir)
  if not recorded:
    return None
  config = ml_collections.ConfigDict(recorded[-1])
  config.shard = ''  # The report's own process is no shard of it.
  return config


def write(workdir, config):
  """Reports the study `config` in `workdir`; returns (the summary file's name, (rows or table,
  excluded))."""
  lock = files.DirectoryLock(workdir)
  try:
    files.remove_temporaries(workdir, os.path.join(workdir, 'figures'))
    if 'methods' in config:
      configs, dataset = method_comparison.checked_configs(config)
      return 'methods.md', method_comparison.report_study(configs, dataset, workdir)
    dataset = settings.check_config(config)
    return 'summary.md', sweep.report_study(config, dataset, workdir)
  finally:
    lock.release()
