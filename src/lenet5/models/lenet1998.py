"""LeNet-5 exactly as published (LeCun, Bottou, Bengio, Haffner 1998, Section II-B).

    INPUT   1@32x32   MNIST 28x28 centred, background -0.1, ink 1.175 ("paper" normalisation)
    C1      6@28x28   conv 5x5                                      -> squash
    S2      6@14x14   2x2 sum * trainable coefficient + bias (per map) -> squash
    C3     16@10x10   conv 5x5 over the S2 maps listed in C3_TABLE   -> squash
    S4     16@5x5     as S2                                          -> squash
    C5    120@1x1     conv 5x5 over all 16 maps                      -> squash
    F6     84         fully connected                                -> squash
    OUTPUT 10         Euclidean RBF: y_i = sum_j (x_j - w_ij)^2, w_i = fixed 7x12 bitmap of digit i

squash f(a) = 1.7159 tanh(2a/3) (so f(1) = 1), weights and biases drawn uniform in
+/-2.4/F with F the fan-in of the unit (`init="paper"`). With that range every layer's
weighted sums are ~1/sqrt(F) the size of its inputs, so activations shrink layer by layer;
`init="sqrt"` draws in +/-2.4/sqrt(F) instead, which keeps them at the same scale
(see docs/results.md for what each does under SDLM). The prediction is the class with the *smallest*
penalty y_i; probabilities are shown as softmax(-y).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lenet5.kernels import conv_bias_squash, subsample_squash
from lenet5.models.registry import register_model
from lenet5.runtime import import_paddle

paddle = import_paddle()
nn = paddle.nn
F = paddle.nn.functional

# Table I of the paper: C3 map k reads the S2 maps C3_TABLE[k].
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip

SQUASH_A = 1.7159
SQUASH_S = 2.0 / 3.0
RBF_BITMAPS_FILE = Path(__file__).with_name("rbf_bitmaps_7x12.txt")


def squash(a):
    """f(a) = A tanh(S a), A = 1.7159, S = 2/3 (Eq. 6, Appendix A)."""
    return SQUASH_A * paddle.tanh(SQUASH_S * a)


def load_rbf_bitmaps(path: Path = RBF_BITMAPS_FILE) -> np.ndarray:
    """[10, 84] of +/-1: the 7x12 bitmap of each digit, row by row ('#' = +1, '.' = -1)."""
    codes: dict[int, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("digit"):
            current = int(line.split()[1])
            codes[current] = []
        elif current is not None and line and set(line) <= {"#", "."}:  # not "# comment" lines
            codes[current].append(line)
    # Checked before building the array: bitmaps of unequal sizes would not even make one.
    if sorted(codes) != list(range(10)) or any(len(codes[d]) != 12 or {len(r) for r in codes[d]} != {7} for d in codes):
        raise ValueError(f"{path}: expected ten 12x7 bitmaps")
    return np.array([[1.0 if c == "#" else -1.0 for c in "".join(codes[d])] for d in range(10)], dtype=np.float32)


INITS = ("paper", "sqrt")


def init_bound(fan_in: float, init: str = "paper") -> float:
    """Half-width of the uniform initialisation: 2.4/F (the paper) or 2.4/sqrt(F)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, not {init!r}")
    return 2.4 / fan_in if init == "paper" else 2.4 / float(np.sqrt(fan_in))


def _uniform_fan_in(fan_in: float, init: str = "paper") -> paddle.nn.initializer.Initializer:
    bound = init_bound(fan_in, init)
    return paddle.nn.initializer.Uniform(-bound, bound)


class Subsampling(nn.Layer):
    """S2/S4: each non-overlapping 2x2 block summed, times a trainable coefficient, plus a
    trainable bias, one pair per map. The squash is applied by the caller."""

    def __init__(self, channels: int, window: int = 2, init: str = "paper") -> None:
        super().__init__()
        self.window = window
        initializer = _uniform_fan_in(window * window, init)
        self.coefficient = self.create_parameter([channels], default_initializer=initializer)
        self.bias = self.create_parameter([channels], default_initializer=initializer)

    def forward(self, x):
        summed = F.avg_pool2d(x, self.window, self.window) * float(self.window * self.window)
        return summed * self.coefficient.reshape([1, -1, 1, 1]) + self.bias.reshape([1, -1, 1, 1])


class MaskedConv2D(nn.Layer):
    """A 5x5 convolution in which output map k only sees the input maps of table[k].

    Implemented as a full weight times a constant 0/1 mask: a masked weight never
    influences the output, so its gradient is exactly zero and it never trains. Each
    output map is initialised with its own fan-in (25 x number of inputs it reads).
    """

    def __init__(
        self, in_channels: int, table: tuple[tuple[int, ...], ...], kernel_size: int = 5, init: str = "paper"
    ) -> None:
        super().__init__()
        out_channels = len(table)
        mask = np.zeros((out_channels, in_channels, kernel_size, kernel_size), dtype=np.float32)
        for k, inputs in enumerate(table):
            mask[k, list(inputs)] = 1.0
        self.register_buffer("mask", paddle.to_tensor(mask), persistable=False)
        weight = np.zeros_like(mask)
        bias = np.zeros(out_channels, dtype=np.float32)
        rng = np.random.default_rng(int(paddle.randint(0, 2**31 - 1, [1]).item()))  # draws follow paddle.seed
        for k, inputs in enumerate(table):
            bound = init_bound(kernel_size * kernel_size * len(inputs), init)
            weight[k] = rng.uniform(-bound, bound, weight[k].shape) * mask[k]
            bias[k] = rng.uniform(-bound, bound)
        self.weight = self.create_parameter(
            list(weight.shape), default_initializer=paddle.nn.initializer.Assign(weight)
        )
        self.bias = self.create_parameter([out_channels], default_initializer=paddle.nn.initializer.Assign(bias))

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias)


class EuclideanRBF(nn.Layer):
    """y_i = sum_j (x_j - w_ij)^2 with w fixed (a buffer, not a parameter: never trained)."""

    def __init__(self, prototypes: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("prototypes", paddle.to_tensor(prototypes))

    def forward(self, x):
        # |x|^2 - 2 x.w + |w|^2, one matrix product instead of a [N, 10, 84] difference
        x_sq = (x * x).sum(axis=1, keepdim=True)
        w_sq = (self.prototypes * self.prototypes).sum(axis=1).reshape([1, -1])
        return x_sq - 2.0 * paddle.matmul(x, self.prototypes, transpose_y=True) + w_sq


class LeNet5(nn.Layer):
    def __init__(self, init: str = "paper") -> None:
        super().__init__()
        self.fused = True  # False: layer by layer, so hooks on each layer see its output
        self.c1 = nn.Conv2D(1, 6, 5, weight_attr=_uniform_fan_in(25, init), bias_attr=_uniform_fan_in(25, init))
        self.s2 = Subsampling(6, init=init)
        self.c3 = MaskedConv2D(6, C3_TABLE, init=init)
        self.s4 = Subsampling(16, init=init)
        self.c5 = nn.Conv2D(16, 120, 5, weight_attr=_uniform_fan_in(400, init), bias_attr=_uniform_fan_in(400, init))
        self.f6 = nn.Linear(120, 84, weight_attr=_uniform_fan_in(120, init), bias_attr=_uniform_fan_in(120, init))
        self.output = EuclideanRBF(load_rbf_bitmaps())

    def features(self, x):
        """The 84 F6 outputs (what the RBF layer compares with the bitmaps)."""
        if self.fused:
            # Each layer and its squash as one operator (lenet5.kernels); the same function.
            x = conv_bias_squash(x, self.c1.weight, self.c1.bias, SQUASH_A, SQUASH_S)
            x = subsample_squash(x, self.s2.coefficient, self.s2.bias, SQUASH_A, SQUASH_S)
            x = conv_bias_squash(x, self.c3.weight * self.c3.mask, self.c3.bias, SQUASH_A, SQUASH_S)
            x = subsample_squash(x, self.s4.coefficient, self.s4.bias, SQUASH_A, SQUASH_S)
            x = conv_bias_squash(x, self.c5.weight, self.c5.bias, SQUASH_A, SQUASH_S)
            return squash(self.f6(paddle.flatten(x, start_axis=1)))
        x = squash(self.c1(x))
        x = squash(self.s2(x))
        x = squash(self.c3(x))
        x = squash(self.s4(x))
        x = squash(self.c5(x))
        return squash(self.f6(paddle.flatten(x, start_axis=1)))

    def forward(self, x):
        return self.output(self.features(x))

    def probabilities(self, outputs):
        return F.softmax(-outputs, axis=-1)

    def predictions(self, outputs):
        return paddle.argmin(outputs, axis=-1)

    def feature_layers(self) -> dict[str, object]:
        return {"c1": self.c1, "c3": self.c3}

    def squashed_layers(self) -> list[object]:
        """C1..F6 in order; each is followed by the squash (SDLM's second-derivative pass)."""
        return [self.c1, self.s2, self.c3, self.s4, self.c5, self.f6]

    def summary_layers(self) -> dict[str, object]:
        return {
            "C1": self.c1, "S2": self.s2, "C3": self.c3, "S4": self.s4,
            "C5": self.c5, "F6": self.f6, "OUTPUT": self.output,
        }  # fmt: skip


@register_model("lenet5", normalization="paper", description="LeNet-5 as published in 1998 (C3 table, RBF output)")
def lenet5(init: str = "paper") -> LeNet5:
    return LeNet5(init)
