"""Exception types that decide what the CLI and the daemon loop do with a failure."""


class AssistantError(Exception):
    """An operational error shown to the user as one line (bad input, unusable home)."""


class TemporaryError(AssistantError):
    """Worth retrying later: rate limit, timeout, network down. Nothing was written."""


class NoDataError(AssistantError):
    """The source answered, but has no bars for this symbol and range."""
