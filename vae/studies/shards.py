"""A study split over independent jobs: a scheduler's job array, or one process per GPU.

The models of a sweep or comparison are independent, so `--config.shard=I/N` makes a job train
and finish only its part of the study's members, and `python -m experiments.report` merges the
parts once they are done. A job is then restartable alone, and the scheduler starts each on
whatever device frees up; one `jax.distributed` job is for a model too big or too slow for one
device (`vae.training.parallel`).

The rule (`owner`): member (strength v, seed offset s) of the sweep `name` (a comparison's entry,
or the method) goes to shard (h + s) mod N, with h a hash of `name` and v's label. It reads
nothing but the member itself, so growing a study by strengths or seeds never moves a member,
and each strength's seeds go round the shards, so shards of equal seeds per strength are even.

A shard locks `shards/<I>-of-<N>/` (a second job of the same shard is refused in one line) and
keeps there the study's config (`study.json`), from which the report knows every member of the
study, finished or not, and the UDR's settings. Each member keeps its own run directory and lock,
so shards share one workdir on a shared file system; a shard writes no study-level file.
"""

import dataclasses
import hashlib
import os

from absl import logging

from vae import files
from vae.errors import UserInputError
from vae.methods.method import strength_label

SHARDS_DIR = 'shards'
STUDY_FILE = 'study.json'
# SLURM sets these in each task of a job array (`sbatch --array=0-7`).
_TASK_ID, _TASK_COUNT = 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT'
_TASK_MIN, _TASK_MAX = 'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_MAX'


@dataclasses.dataclass(frozen=True)
class Shard:
  """The `index`-th (from 0) of `count` parts of a study."""
  index: int
  count: int

  def __str__(self):
    return f'{self.index}/{self.count}'


def _from_slurm(environ) -> Shard:
  if _TASK_ID not in environ:
    raise UserInputError("--config.shard='auto' reads SLURM_ARRAY_TASK_ID, which is not set: "
                         "run it as a task of a SLURM job array (sbatch --array=0-N), or give "
                         "--config.shard=I/N")
  task = int(environ[_TASK_ID])
  low = int(environ.get(_TASK_MIN, 0))
  if _TASK_MAX in environ:
    count = int(environ[_TASK_MAX]) - low + 1
  else:
    count = int(environ.get(_TASK_COUNT, 0))
  if count < 1 or not 0 <= task - low < count:
    raise UserInputError(f"--config.shard='auto': SLURM_ARRAY_TASK_ID={task} is not one of the "
                         f'array\'s {count} tasks from {low}')
  return Shard(task - low, count)


def parse(value, environ=None) -> Shard | None:
  """The shard `--config.shard` names ('' for the whole study, 'I/N', or 'auto' in a SLURM job
  array, where a task's index counts from SLURM_ARRAY_TASK_MIN)."""
  if value in ('', None):
    return None
  if value == 'auto':
    return _from_slurm(os.environ if environ is None else environ)
  index, _, count = str(value).partition('/')
  if index.isdigit() and count.isdigit() and int(index) < int(count):
    return Shard(int(index), int(count))
  raise UserInputError(f"--config.shard={value!r} must be I/N with 0 <= I < N (e.g. 0/4), "
                       "'auto' in a SLURM job array, or '' for the whole study")


def owner(name, strength, seed_offset, count) -> int:
  """The shard (of `count`) that trains member (strength, seed offset) of the sweep `name`."""
  digest = hashlib.sha256(f'{name}/{strength_label(strength)}'.encode()).digest()
  return (int.from_bytes(digest[:8], 'big') + seed_offset) % count


def directory(workdir, shard: Shard):
  return os.path.join(workdir, SHARDS_DIR, f'{shard.index}-of-{shard.count}')


def claim(workdir, shard: Shard, study: dict):
  """Locks `shard` of the study in `workdir` for this process and records the study's config
  (`study`, a dict) beside the lock; returns the lock (`release()` it)."""
  path = directory(workdir, shard)
  files.prepare_directory(path)
  try:
    lock = files.DirectoryLock(path, flag=f'--config.shard={shard} of --workdir')
  except UserInputError as e:
    raise UserInputError(str(e).replace(f'={path} ', f'={workdir} ')) from None
  files.write_json_atomic(os.path.join(path, STUDY_FILE), study)
  return lock


def train(workdir, shard: Shard, config, train_members):
  """Claims `shard` of the study `config` in `workdir`, runs `train_members()` and releases it."""
  lock = claim(workdir, shard, config.to_dict())
  try:
    train_members()
  finally:
    lock.release()
  logging.info('shard %s finished; once every shard has, `python -m experiments.report '
               '--workdir=%s` reports the study', shard, workdir)


def studies(workdir) -> list[dict]:
  """The study configs the shards of `workdir` recorded, oldest first (a grown study's last)."""
  root = os.path.join(workdir, SHARDS_DIR)
  if not os.path.isdir(root):
    return []
  paths = [os.path.join(root, d, STUDY_FILE) for d in os.listdir(root)]
  paths = sorted((p for p in paths if os.path.exists(p)), key=os.path.getmtime)
  return [files.read_json(p, 'a shard\'s study config') for p in paths]
