"""The one exception type for mistakes a user can fix; the CLI turns it into one line and exit code 2."""


class UserError(Exception):
    """A problem with the user's input (path, data, checkpoint, flag), with the fix in the message."""
