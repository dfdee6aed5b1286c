"""TensorBoard event files written in the caller's thread.

tensorboardX's `SummaryWriter` writes from a background thread. On a full disk that thread dies
with a traceback, its queue never drains, and `close()` waits for it forever. An `EventFile`
writes each event with one unbuffered write in the caller's thread instead, so a full disk is an
`OSError` naming the file at the call that meets it, and closing never has anything left to write.
Events are TensorBoard's record format: length, its masked CRC-32C, the serialised `Event`, its
masked CRC-32C. The summaries inside come from `tensorboardX.summary`.
"""

import os
import struct
import time

from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c

from vae import files

FILE_VERSION = 'brain.Event:2'
PREFIX = 'events.out.tfevents.'


def _record(event) -> bytes:
  data = event.SerializeToString()
  header = struct.pack('<Q', len(data))
  return (header + struct.pack('<I', masked_crc32c(header)) + data +
          struct.pack('<I', masked_crc32c(data)))


class EventFile:
  """One event file at `path`, created (or replaced) with its version event."""

  def __init__(self, path):
    self.path = path
    try:
      self._file = open(path, 'wb', buffering=0)
    except OSError as e:
      raise files.named_error(e, path) from None
    try:
      self._write(event_pb2.Event(wall_time=time.time(), file_version=FILE_VERSION))
    except OSError:
      self.close()
      raise

  def _write(self, event):
    try:
      files.write_all(self._file.write, _record(event))
    except OSError as e:
      raise files.named_error(e, self.path) from None

  def add(self, summary, step: int):
    """Appends one event holding `summary` (a `Summary` proto) at `step`."""
    self._write(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

  def close(self):
    self._file.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()


def new_path(directory, suffix=''):
  """A new event file's path in `directory`, named by the time (TensorBoard reads in name
  order)."""
  return os.path.join(directory, f'{PREFIX}{time.time():.6f}{suffix}')


def write_whole(path, add_events):
  """Writes the event file `path` by `add_events(EventFile)` under a temporary name (without
  'tfevents', so TensorBoard never reads it half-written), then renames it into place."""
  tmp = files.temporary(os.path.join(os.path.dirname(path), 'events'))
  try:
    with EventFile(tmp) as events:
      add_events(events)
  except OSError as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise OSError(e.errno, e.strerror, path) from None
  os.replace(tmp, path)
