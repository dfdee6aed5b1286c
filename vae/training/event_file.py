"""TensorBoard event files written in the caller's thread.

tensorboardX's `SummaryWriter` writes from a background thread. On a full disk that thread dies
with a traceback, its queue never drains, and `close()` waits for it forever. An `EventFile`
writes each event with one unbuffered write in the caller's thread instead, so a full disk is an
`OSError` naming the file at the call that meets it, and closing never has anything left to write.
Events are TensorBoard's record format: length, its masked CRC-32C, the serialised `Event`, its
masked CRC-32C. The summaries inside come from `tensorboardX.summary`.
"""

import struct
import time

from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c

from vae import files

FILE_VERSION = 'brain.Event:2'


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
