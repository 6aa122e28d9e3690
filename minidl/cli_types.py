"""Argument types shared by the command-line tools: numbers checked as argparse parses them."""
import argparse


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
positive_float = checked(float, lambda value: value > 0, "> 0")
non_negative_int = checked(int, lambda value: value >= 0, ">= 0")
