"""AdamW: Adam with weight decay taken out of the gradient."""
from minidl.optim.adam import Adam


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``: Adam, but weight decay shrinks
    the weights directly instead of being added to the gradient,

        w <- w - lr * lambda * w                 (decoupled weight decay, first)
        then Adam's update with the raw gradient g (see ``Adam``).

    In Adam with weight_decay, lambda * w passes through m and v, so weights with large gradients
    are barely regularized; here every weight decays at the same rate.  Default lambda = 0.01.
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)
