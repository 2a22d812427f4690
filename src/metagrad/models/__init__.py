"""metagrad.models: equinox networks mapping a batch `[n, ...]` to `[n, out]`, with a `head`.

Every model exposes `features(x)` (the backbone) and a linear `head`, so ANIL, MTL, R2D2 and
ProtoNet work on all of them. BatchNorm uses batch statistics only (`BatchStatNorm`).
"""

from metagrad.models._conv4 import Conv4 as Conv4
from metagrad.models._mlp import MLP as MLP
from metagrad.models._norm import BatchStatNorm as BatchStatNorm
from metagrad.models._resnet12 import ResNet12 as ResNet12

__all__ = ["MLP", "BatchStatNorm", "Conv4", "ResNet12"]
