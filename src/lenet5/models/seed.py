"""The article's network ("seed"): the modern LeNet variant its Part 2 trains on MNIST.

    input 1@28x28 (normalised p/255*2-1)
    conv 20@5x5 -> ReLU -> max-pool 2/2      20@12x12
    batch-norm                               (after the pool, as the notebook has it)
    conv 50@5x5 -> ReLU -> max-pool 2/2      50@4x4
    fully connected 800 -> 10                logits; softmax lives in the loss / prediction

Recipe (lenet5.settings, "seed"): Adam 1e-3, batch 128, 10 epochs, cross-entropy.

Training runs a reordered but equivalent forward (`fused = True`): since max-pooling
commutes with adding a per-channel constant and with ReLU,

    max_pool(relu(conv(x) + b)) == relu(max_pool(conv(x)) + b)

exactly, bit for bit in floating point (rounding is monotonic, so the maximum is the same
element). On the CPU the whole block then runs as one custom operator,
`lenet5.kernels.conv_pool_relu` (kernels/conv_kernels.cc); elsewhere, and when exported,
as Paddle's conv2d, max_pool2d, add and relu in that order. The parameters and the
function are the same; only floating-point summation orders differ. Set `fused = False`
(see `reference_path`) for the textbook order, used by the layer table and by the
feature-map report, which need the convolution's own output.
"""

from __future__ import annotations

from lenet5.kernels import conv_pool_relu
from lenet5.models.registry import register_model
from lenet5.runtime import import_paddle

paddle = import_paddle()
nn = paddle.nn
F = paddle.nn.functional


class SeedNet(nn.Layer):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.fused = True
        self.conv1 = nn.Conv2D(1, 20, kernel_size=5)
        self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.norm1 = nn.BatchNorm2D(20)
        self.conv2 = nn.Conv2D(20, 50, kernel_size=5)
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.fc = nn.Linear(50 * 4 * 4, num_classes)

    def forward(self, x):
        if self.fused:
            x = self.norm1(conv_pool_relu(x, self.conv1.weight, self.conv1.bias))
            x = conv_pool_relu(x, self.conv2.weight, self.conv2.bias)
        else:
            x = self.norm1(self.pool1(F.relu(self.conv1(x))))
            x = self.pool2(F.relu(self.conv2(x)))
        return self.fc(paddle.flatten(x, start_axis=1))

    def probabilities(self, outputs):
        return F.softmax(outputs, axis=-1)

    def predictions(self, outputs):
        return paddle.argmax(outputs, axis=-1)

    def feature_layers(self) -> dict[str, object]:
        """The layers whose outputs reports show as feature maps."""
        return {"conv1": self.conv1, "conv2": self.conv2}

    def summary_layers(self) -> dict[str, object]:
        return {
            "conv1": self.conv1, "pool1": self.pool1, "norm1": self.norm1,
            "conv2": self.conv2, "pool2": self.pool2, "fc": self.fc,
        }  # fmt: skip


@register_model("seed", normalization="seed", description="the article's conv20-pool-BN-conv50-pool-fc10 net")
def seed(num_classes: int = 10) -> SeedNet:
    return SeedNet(num_classes)
