"""What the driver prints, and how a command ends early.

Progress lines ("==> ...") go to the error stream in bold, so that what a command prints on
its standard output stays what the docs quote. A command that cannot go on raises Stop: the
message goes to the error stream and the process ends with the status it carries (1 for a
failure, 2 for a command given wrongly).
"""
import sys

USAGE = "usage: ./tutorial <command> [args] (./tutorial help)"


class Stop(Exception):
    """Ends the command: message (may be empty) on the error stream, then exit(status)."""

    def __init__(self, status, message="", usage=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.usage = usage


def say(text):
    print(f"\033[1m==> {text}\033[0m", file=sys.stderr, flush=True)


def out(text=""):
    print(text, flush=True)


def die(text):
    raise Stop(1, f"tutorial: {text}")


def usage_error(text):
    raise Stop(2, f"tutorial: {text}", usage=True)


def refuse(text):
    """A request the tree cannot serve as it is: status 2, nothing changed."""
    raise Stop(2, f"tutorial: {text}")


def report(stop):
    """Prints what a Stop carries; returns the exit status."""
    if stop.message:
        print(stop.message, file=sys.stderr, flush=True)
    if stop.usage:
        print(USAGE, file=sys.stderr, flush=True)
    return stop.status
