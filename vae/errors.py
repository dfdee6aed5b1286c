"""The one error type a user can fix by changing a setting or an input."""


class UserInputError(ValueError):
  """A bad setting or input; its message is one line naming the setting and what is allowed."""
