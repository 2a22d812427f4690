"""metagrad.algorithms: inner-loop adaptation and meta-training on any equinox model."""

from metagrad.algorithms._adapt import adapt as adapt
from metagrad.algorithms._adapt import adapt_with_losses as adapt_with_losses
from metagrad.algorithms._adapt import all_params as all_params
from metagrad.algorithms._adapt import head_only as head_only
from metagrad.algorithms._adapt import no_params as no_params
from metagrad.algorithms._base import AbstractMetaAlgorithm as AbstractMetaAlgorithm
from metagrad.algorithms._guards import DivergenceError as DivergenceError
from metagrad.algorithms._guards import check_finite as check_finite
from metagrad.algorithms._heads import R2D2 as R2D2
from metagrad.algorithms._heads import ProtoNet as ProtoNet
from metagrad.algorithms._heads import prototype_logits as prototype_logits
from metagrad.algorithms._heads import ridge_head as ridge_head
from metagrad.algorithms._losses import LOSSES as LOSSES
from metagrad.algorithms._losses import cross_entropy as cross_entropy
from metagrad.algorithms._losses import half_mse as half_mse
from metagrad.algorithms._losses import mse as mse
from metagrad.algorithms._losses import sum_squares as sum_squares
from metagrad.algorithms._maml import MAML as MAML
from metagrad.algorithms._maml import anil as anil
from metagrad.algorithms._maml import fo_anil as fo_anil
from metagrad.algorithms._maml import fo_maml as fo_maml
from metagrad.algorithms._maml import maml as maml
from metagrad.algorithms._metaoptnet import MetaOptNet as MetaOptNet
from metagrad.algorithms._metaoptnet import svm_dual as svm_dual
from metagrad.algorithms._metaoptnet import svm_logits as svm_logits
from metagrad.algorithms._mtl import ERM as ERM
from metagrad.algorithms._mtl import MTL as MTL
from metagrad.algorithms._mtl import MTLParams as MTLParams
from metagrad.algorithms._mtl import Reptile as Reptile
from metagrad.algorithms._mtl import init_mtl as init_mtl
from metagrad.algorithms._step import MetaState as MetaState
from metagrad.algorithms._step import init_meta_state as init_meta_state
from metagrad.algorithms._step import meta_loss as meta_loss
from metagrad.algorithms._step import meta_step as meta_step
from metagrad.algorithms._step import meta_train as meta_train

__all__ = [
    "LOSSES",
    "ERM",
    "MAML",
    "MTL",
    "MTLParams",
    "MetaOptNet",
    "ProtoNet",
    "R2D2",
    "Reptile",
    "AbstractMetaAlgorithm",
    "DivergenceError",
    "MetaState",
    "adapt",
    "adapt_with_losses",
    "all_params",
    "anil",
    "check_finite",
    "cross_entropy",
    "fo_anil",
    "fo_maml",
    "half_mse",
    "head_only",
    "init_meta_state",
    "init_mtl",
    "maml",
    "meta_loss",
    "meta_step",
    "meta_train",
    "mse",
    "no_params",
    "prototype_logits",
    "ridge_head",
    "sum_squares",
    "svm_dual",
    "svm_logits",
]
