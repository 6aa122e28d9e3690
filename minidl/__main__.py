"""The command line: ``python -m minidl COMMAND [options]``; ``--help`` lists the commands."""
import argparse
import inspect
import sys

from minidl import __version__
from minidl.cli_types import (
    DefaultsHelpFormatter,
    file_given_as_directory,
    non_negative_int,
    positive_float,
    positive_int,
)
from minidl.demo import train_digits_mlp
from minidl.tune.cli import add_tune_parser

# The demo's defaults live in one place, the signature of train_digits_mlp.
DEMO_DEFAULTS = {name: p.default for name, p in inspect.signature(train_digits_mlp).parameters.items()}


def run_demo(args):
    train_digits_mlp(args.epochs, args.lr, args.batch_size, args.hidden, args.seed)


def run_explain(args):
    """Run ``python -m minidl explain``: write the backprop page; a bad --out gives one error line."""
    from minidl.viz.backprop_explain import explain_first_step

    try:
        page = explain_first_step(args.out, seed=args.seed)
    except OSError as err:
        print("error: " + str(err), file=sys.stderr)
        return 1
    print(f"wrote {page.path} ({len(page.html) / 1e6:.1f} MB): open it in a browser, then use the arrow keys")
    return 0


def add_explain_command(commands):
    explain = commands.add_parser(
        "explain",
        help="write a page that steps through the backward pass of the digits MLP's first training step",
        description="Record the digits MLP's first minibatch (the demo's model, split and batch order) and write "
        "one self-contained HTML page that steps through its forward pass and then its backward pass, node by "
        "node, with every gradient the engine computes.",
        formatter_class=DefaultsHelpFormatter,
    )
    explain.add_argument("--out", default="backprop.html", metavar="PATH", help="the HTML file to write")
    explain.add_argument("--seed", type=non_negative_int, default=0, metavar="S", help="seeds the weights and the batch")
    explain.set_defaults(run=run_explain)


def run_train(args):
    """Run ``python -m minidl train``; bad input ends with one line on stderr and exit code 1
    (2 for options that do not fit together), never a traceback."""
    from minidl.backend import DeviceError
    from minidl.data import DataError
    from minidl.serialization import SerializationError
    from minidl.train.command import TrainingFailed, train_and_report

    problem = train_option_problem(args)
    if problem is not None:
        print("error: " + problem, file=sys.stderr)
        return 2
    options = {name: value for name, value in vars(args).items() if name not in ("run", "quiet")}
    try:
        train_and_report(**options, verbose=not args.quiet)
    except (DataError, DeviceError, SerializationError, TrainingFailed, OSError) as err:
        print("error: " + " ".join(str(err).split()), file=sys.stderr)
        return 1
    return 0


def train_option_problem(args):
    """What is wrong with the ``train`` options as a whole, in one sentence; None when nothing is.

    ``--data-dir`` without ``--dataset mnist`` is refused, not ignored: whoever gives a folder
    expects to train on it, and an accuracy measured on the bundled digits would look like theirs."""
    if args.dataset == "mnist" and args.data_dir is None:
        return "--dataset mnist needs --data-dir DIR, the folder of the four MNIST IDX files"
    if args.dataset != "mnist" and args.data_dir is not None:
        return (f"--data-dir is read only with --dataset mnist: the digits come with scikit-learn, so {args.data_dir} "
                "would not be read; add --dataset mnist to train on its files, or leave --data-dir out")
    return (file_given_as_directory("--data-dir", args.data_dir, "the folder of the four MNIST IDX files")
            or file_given_as_directory("--out", args.out, "a folder for curves.png, confusion.png and best.npz"))


def per_choice(defaults, pick):
    """``"digits 32, mnist 64"``: a default that depends on another option (``pick`` reads it from
    each choice's settings), for the help text."""
    return ", ".join(f"{key} {pick(value)}" for key, value in defaults.items())


def add_train_command(commands):
    from minidl.train.command import DATASET_DEFAULTS, OPTIMIZERS

    train = commands.add_parser(
        "train",
        help="train the CNN (or an MLP) on digits or MNIST with early stopping; report test accuracy",
        description="Train Conv(32)-ReLU-MaxPool-Conv(64)-ReLU-MaxPool-Flatten-Linear(10) (or an MLP) on "
        "scikit-learn's 8x8 digits (default) or MNIST, with a validation split and early stopping on the "
        "validation loss (best weights restored). Shows a progress bar per epoch, prints the test accuracy "
        "and the confusion matrix, and saves curves.png, confusion.png and the best checkpoint best.npz "
        "into --out.",
        formatter_class=DefaultsHelpFormatter,
    )
    add = train.add_argument
    add("--dataset", choices=list(DATASET_DEFAULTS), default="digits",
        help="digits: bundled with scikit-learn; mnist: read from --data-dir")
    add("--data-dir", metavar="DIR",
        help="folder with the MNIST IDX files (.gz or raw); needed for mnist, refused for digits")
    add("--model", choices=["cnn", "mlp"], default="cnn", help="the network")
    add("--optimizer", choices=list(OPTIMIZERS), default="adam", help="the md.optim optimizer")
    add("--lr", type=positive_float, metavar="LR",
        help=f"learning rate (default: {per_choice(OPTIMIZERS, lambda choice: choice[1])})")
    add("--batch-size", type=positive_int, metavar="B",
        help=f"examples per minibatch (default: {per_choice(DATASET_DEFAULTS, lambda d: d['batch_size'])})")
    add("--epochs", type=positive_int, metavar="N",
        help=f"most passes over the training set (default: {per_choice(DATASET_DEFAULTS, lambda d: d['epochs'])})")
    add("--patience", type=non_negative_int, default=3, metavar="P",
        help="stop after P epochs without a better validation loss")
    add("--seed", type=non_negative_int, default=0, metavar="S", help="seeds the initial weights and batch order")
    add("--out", default="minidl-train", metavar="DIR", help="where the curves, confusion matrix and checkpoint go")
    add("--device", default="cpu", metavar="D", help="where the model trains: cpu or cuda (CuPy on a GPU)")
    add("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=run_train)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m minidl",
        description="minidl: a small, readable deep learning engine that checks itself against PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"minidl {__version__}")
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
    add_train_command(commands)
    add_tune_parser(commands)
    add_explain_command(commands)
    return parser


def main(argv=None):
    """Parse ``argv`` and run the command; without one, print the help and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
