"""The command line: ``python -m minidl COMMAND [options]``; ``--help`` lists the commands."""
import argparse
import inspect
import sys

from minidl.demo import train_digits_mlp

# The demo's defaults live in one place, the signature of train_digits_mlp.
DEMO_DEFAULTS = {name: p.default for name, p in inspect.signature(train_digits_mlp).parameters.items()}


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


def run_demo(args):
    train_digits_mlp(args.epochs, args.lr, args.batch_size, args.hidden, args.seed)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m minidl",
        description="minidl: a small, readable deep learning engine that checks itself against PyTorch.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train a small MLP on the 8x8 digits and print its test accuracy",
        description="Train Linear(64, H) -> ReLU -> Linear(H, 10) with minibatch SGD on scikit-learn's "
        "8x8 digits (a fixed, stratified 80/20 split); print the training loss and test accuracy "
        "of every epoch, then the final test accuracy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--epochs", type=positive_int, metavar="N", help="passes over the training set")
    demo.add_argument("--lr", type=positive_float, metavar="LR", help="SGD learning rate")
    demo.add_argument("--batch-size", type=positive_int, metavar="B", help="examples per minibatch")
    demo.add_argument("--hidden", type=positive_int, metavar="H", help="width of the hidden layer")
    demo.add_argument("--seed", type=non_negative_int, metavar="S", help="seeds the initial weights and batch order")
    demo.set_defaults(run=run_demo, **{k: v for k, v in DEMO_DEFAULTS.items() if k != "log"})
    return parser


def main(argv=None):
    """Parse ``argv`` and run the command; without one, print the help and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
