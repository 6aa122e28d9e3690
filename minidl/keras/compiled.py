"""What ``model.compile(optimizer, loss, metrics)`` chose, kept on the model until ``fit``."""
from minidl.keras import losses, metrics, optimizers
from minidl.keras.config import serialize


class Compiled:
    """The optimizer settings (the ``md.optim`` optimizer is made at the first ``fit``, once the
    weights exist, and kept afterwards), the loss and the metrics."""

    def __init__(self, optimizer, loss, metric_names):
        self.given = {"optimizer": optimizer, "loss": loss, "metrics": metrics.check(metric_names)}
        self.optimizer = optimizers.get(optimizer)
        self.loss = None if loss is None else losses.get(loss)
        self.metric_names = self.given["metrics"]
        self.torch_optimizer = None

    def metrics_for(self, target_shape, output_shape):
        return metrics.resolve(self.metric_names, target_shape, output_shape)

    def optimizer_for(self, model):
        if self.torch_optimizer is None:
            self.torch_optimizer = self.optimizer.build([p for p in model.parameters() if p.requires_grad])
        return self.torch_optimizer

    def loss_with_penalty(self, model):
        """``loss(outputs, targets) + model.penalty()``: the loss Keras reports and trains on."""
        def loss_fn(outputs, targets):
            return self.loss(targets, outputs) + model.penalty()
        return loss_fn

    def get_config(self):
        """The arguments of ``compile`` as plain data (functions of your own by name)."""
        return {"optimizer": serialize(self.optimizer), "loss": serialize(self.given["loss"]),
                "metrics": [serialize(metric) for metric in self.metric_names]}
