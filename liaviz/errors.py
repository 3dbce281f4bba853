"""Errors a user can fix (bad file, bad argument). The CLI prints them as one line, exit code 2."""


class UserError(Exception):
    """Base class for problems with the user's input rather than bugs in liaviz."""
