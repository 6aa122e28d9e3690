"""A tqdm progress bar per epoch, showing the running loss and, at the end, every logged number."""
from tqdm import tqdm

from minidl.train.callbacks import Callback


def format_logs(logs):
    """``loss 0.1234 · accuracy 0.9700 · lr 0.001`` for a dict of logged numbers (time left out)."""
    shown = [f"{name} {value:.4g}" if name == "lr" else f"{name} {value:.4f}" for name, value in logs.items()
             if name != "time"]
    return " · ".join(shown)


class ProgressBar(Callback):
    """``epoch 3/20: 100%|█████| 36/36 [00:01, loss 0.0512 · accuracy 0.98 ...]``, one line per
    epoch on ``file`` (stderr by default); ``fit(..., verbose=True)`` adds it.  During the epoch
    the bar shows the mean loss of the batches so far."""

    def __init__(self, file=None):
        self.file = file
        self.bar = None

    def on_epoch_begin(self, state):
        self.loss_sum, self.batches = 0.0, 0
        self.bar = tqdm(total=state.steps, desc=f"epoch {state.epoch}/{state.epochs}", unit="batch", file=self.file,
                        dynamic_ncols=True)

    def on_batch_end(self, state):
        self.loss_sum += state.logs["loss"]
        self.batches += 1
        self.bar.set_postfix_str(f"loss {self.loss_sum / self.batches:.4f}", refresh=False)
        self.bar.update(1)

    def on_epoch_end(self, state):
        self.bar.set_postfix_str(format_logs(state.logs), refresh=False)
        self.bar.close()

    def on_train_end(self, state):
        if state.stop_reason:
            tqdm.write(state.stop_reason, file=self.file)
