"""The errors a run ends with that are not bugs: a bad input, and a stop on a signal."""


class UserInputError(ValueError):
  """A bad setting or input; its message is one line naming the setting and what is allowed."""


class Interrupted(Exception):
  """A run stopped on SIGTERM/SIGINT after saving its state; re-running resumes it."""

  def __init__(self, signum: int, message: str):
    super().__init__(message)
    self.exit_code = 128 + signum  # The shell's convention: 130 for SIGINT, 143 for SIGTERM.
