"""metagrad.train: one resumable training loop for MTL and the episodic meta-learners.

`train(TrainConfig(method=...), dataset, key=...)` trains MTL (global head, RAdam,
reduce-on-plateau, early stopping) or MAML, FO-MAML, ANIL, ProtoNet, R2D2, MetaOptNet with the
same loop: validation every epoch, best epoch kept, atomic checkpoints, resumption, a rich
progress bar, a JSON-lines metrics log and the measured training cost (docs/training.md).
"""

from metagrad.train._checkpoint import CheckpointError as CheckpointError
from metagrad.train._checkpoint import load_checkpoint as load_checkpoint
from metagrad.train._checkpoint import save_checkpoint as save_checkpoint
from metagrad.train._config import METHODS as METHODS
from metagrad.train._config import TrainConfig as TrainConfig
from metagrad.train._loop import TrainResult as TrainResult
from metagrad.train._loop import evaluate_trained as evaluate_trained
from metagrad.train._loop import train as train
from metagrad.train._methods import NormalizedMTL as NormalizedMTL
from metagrad.train._methods import backbone_of as backbone_of
from metagrad.train._methods import make_model as make_model

__all__ = [
    "METHODS",
    "CheckpointError",
    "NormalizedMTL",
    "TrainConfig",
    "TrainResult",
    "backbone_of",
    "evaluate_trained",
    "load_checkpoint",
    "make_model",
    "save_checkpoint",
    "train",
]
