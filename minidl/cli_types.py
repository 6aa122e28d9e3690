"""What the command-line tools share: numbers checked as argparse parses them, folders checked
before any work starts, and the help formatter."""
import argparse
import math
from pathlib import Path


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: ...)" after an option's help, except for a default of None (whose help
    then says what happens)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def checked(kind, test, requirement):
    """An argparse type: parse ``kind`` (int or float) from the text, refusing values that fail ``test``."""

    def parse(text):
        value = kind(text)
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its "invalid int value" message
    return parse


positive_int = checked(int, lambda value: value > 0, "> 0")
positive_float = checked(float, lambda value: math.isfinite(value) and value > 0, "a finite number > 0")
non_negative_int = checked(int, lambda value: value >= 0, ">= 0")


def file_given_as_directory(option, path, wanted):
    """The one-line complaint when ``path``, given as ``option``, is an existing file where a
    folder is ``wanted`` (e.g. "the folder of the MNIST IDX files"); None when it is not a file."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        return f"{option} {path} is a file, not a directory; give {wanted}"
    return None
