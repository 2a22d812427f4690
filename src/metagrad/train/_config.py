"""The training configuration: one frozen, validated dataclass for every method."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

__all__ = ["ADAPT_METHODS", "INNER_LR_RULES", "METHODS", "TrainConfig"]

METHODS = ("mtl", "maml", "fo_maml", "anil", "protonet", "r2d2", "metaoptnet")
"""The methods `train` runs: MTL with a global head and six episodic meta-learners."""

BACKBONES = ("conv4", "resnet12")
EVAL_HEADS = ("own", "logistic", "prototype", "ridge")
ADAPT_METHODS = ("maml", "fo_maml", "anil")
"""The methods with an inner loop of gradient steps (an inner learning rate, adapted heads)."""
INNER_LR_RULES = ("fixed", "online")
_LATER_FIELDS = {"head_normalize": False, "inner_lr_rule": "fixed", "online_decay": 0.9,
                 "test_tasks": 0}
"""Fields added after the first checkpoints; left out of the fingerprint at these defaults."""


def _need(cond: bool, name: str, value, allowed: str) -> None:
    if not cond:
        raise ValueError(f"TrainConfig: {name}={value!r} is not allowed: expected {allowed}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (validated when built, before any compute).

    One epoch is `steps_per_epoch` optimiser steps of `meta_batch` training episodes each (the
    paper's epoch: 1600 tasks, i.e. 1600 / meta_batch steps). After every epoch the model is
    validated on `val_tasks` validation-class episodes (always the same episodes); the best
    epoch's parameters are kept. Reduce-on-plateau and early stopping watch validation accuracy.

    Attributes:
        method: one of `METHODS`.
        n_way, n_shot, n_query: training episode shape (N ways, K support and Q query images
            per class); validation uses `n_way`, `n_shot` and `val_query`.
        meta_batch: episodes per optimiser step, >= 1.
        steps_per_epoch: optimiser steps per epoch, >= 1.
        max_epochs: epochs at most, >= 1.
        patience: early stopping after this many epochs without a better validation accuracy.
        lr: RAdam learning rate, > 0 (paper: 1e-3).
        plateau_factor, plateau_patience: reduce-on-plateau of the learning rate on validation
            accuracy (paper: 0.1, 4).
        inner_lr, inner_steps: MAML / FO-MAML / ANIL inner loop (train); `test_inner_steps` at
            validation and test (0: same as training).
        normalize: L2-normalise MTL's features in training (the paper's default).
        ridge_lam: R2D2's ridge penalty. svm_C, svm_iters: MetaOptNet's SVM penalty and solver
            iterations. head_scale: logit scale of R2D2 / MetaOptNet.
        backbone: ``conv4`` or ``resnet12``; filters: Conv-4 width (ResNet-12: channels of
            the first block, the others scaled as 64-160-320-640).
        val_tasks, val_query: validation episodes per epoch and queries per class.
        eval_head: head at validation/test: ``own`` (the method's: adaptation for MAML/ANIL,
            prototypes, ridge, SVM; logistic for MTL), or a `metagrad.data` head name.
        head_normalize: MAML / FO-MAML / ANIL only: the head sees L2-normalised backbone
            features, logits ``head(φ(x)/‖φ(x)‖)`` (Zou, Liu, Li 2022, Sec. 5.1, Fig. 3).
        inner_lr_rule: ``fixed`` (`inner_lr` throughout) or ``online`` (ANIL with
            `head_normalize` only): the inner learning rate is a buffer, started at `inner_lr`
            and updated before every meta-step as ``α_buf ← d·α_buf + (1 − d)·α*`` with
            ``d = online_decay`` and α* the App. H.3 estimate
            1/(2·N_way·N_shot·σ̂²) from the meta-batch's normalised support features
            (`metagrad.theory.adaptation_lr.alpha_star_anil_features`); the same α_buf is
            used in training, validation and test. See docs/zou2022.md (Fig. 3).
        online_decay: d of the online rule, in [0, 1] (paper: 0.9). 1 keeps the buffer at
            `inner_lr` (a fixed rate) while α* is still estimated and recorded: the same
            compiled step as the online rule, so a fixed-α baseline compiles nothing new.
        test_tasks: MAML family only: test-class episodes (`n_way`, `n_shot`, `val_query`;
            the same every epoch) scored after every epoch, their mean query loss and accuracy
            recorded in the history (``test_loss``, ``test_acc``); 0 (default): none.
    """

    method: str = "mtl"
    n_way: int = 5
    n_shot: int = 1
    n_query: int = 5
    meta_batch: int = 4
    steps_per_epoch: int = 100
    max_epochs: int = 20
    patience: int = 15
    lr: float = 1e-3
    plateau_factor: float = 0.1
    plateau_patience: int = 4
    inner_lr: float = 0.1
    inner_steps: int = 5
    test_inner_steps: int = 0
    normalize: bool = True
    ridge_lam: float = 1.0
    svm_C: float = 0.1
    svm_iters: int = 30
    head_scale: float = 1.0
    backbone: str = "conv4"
    filters: int = 32
    val_tasks: int = 100
    val_query: int = 15
    eval_head: str = "own"
    head_normalize: bool = False
    inner_lr_rule: str = "fixed"
    online_decay: float = 0.9
    test_tasks: int = 0

    def __post_init__(self) -> None:
        _need(self.method in METHODS, "method", self.method, f"one of {METHODS}")
        _need(self.backbone in BACKBONES, "backbone", self.backbone, f"one of {BACKBONES}")
        _need(self.eval_head in EVAL_HEADS, "eval_head", self.eval_head, f"one of {EVAL_HEADS}")
        for name in ("n_shot", "n_query", "meta_batch", "steps_per_epoch", "max_epochs",
                     "patience", "plateau_patience", "filters", "val_tasks", "val_query",
                     "svm_iters"):
            v = getattr(self, name)
            _need(isinstance(v, int) and v >= 1, name, v, "an integer >= 1")
        _need(isinstance(self.n_way, int) and self.n_way >= 2, "n_way", self.n_way, "an integer >= 2")
        for name in ("inner_steps", "test_inner_steps"):
            v = getattr(self, name)
            _need(isinstance(v, int) and v >= 0, name, v, "an integer >= 0")
        for name in ("lr", "ridge_lam", "svm_C", "head_scale"):
            v = getattr(self, name)
            _need(math.isfinite(v) and v > 0, name, v, "a finite number > 0")
        _need(0 < self.plateau_factor < 1, "plateau_factor", self.plateau_factor,
              "in (0, 1) (optax refuses 1; to keep the lr constant, set plateau_patience "
              "above max_epochs)")
        _need(math.isfinite(self.inner_lr), "inner_lr", self.inner_lr, "a finite number")
        _need(self.inner_lr_rule in INNER_LR_RULES, "inner_lr_rule", self.inner_lr_rule,
              f"one of {INNER_LR_RULES}")
        _need(isinstance(self.head_normalize, bool), "head_normalize", self.head_normalize,
              "True or False")
        _need(not self.head_normalize or self.method in ADAPT_METHODS, "head_normalize",
              self.head_normalize, f"False for method={self.method!r} (only {ADAPT_METHODS} adapt "
              "a head; MTL's feature normalisation is `normalize`)")
        if self.inner_lr_rule == "online":
            _need(self.method == "anil", "inner_lr_rule", self.inner_lr_rule,
                  f"'fixed' for method={self.method!r} (the H.3 estimate is for head-only "
                  "adaptation: method='anil')")
            _need(self.head_normalize, "inner_lr_rule", self.inner_lr_rule,
                  "'fixed' unless head_normalize=True (the H.3 estimate is for the L2-normalised "
                  "features the head sees)")
            _need(self.inner_lr > 0, "inner_lr", self.inner_lr,
                  "> 0 with inner_lr_rule='online' (the buffer's starting value)")
        _need(math.isfinite(self.online_decay) and 0 <= self.online_decay <= 1, "online_decay",
              self.online_decay, "in [0, 1]")
        _need(isinstance(self.test_tasks, int) and self.test_tasks >= 0, "test_tasks",
              self.test_tasks, "an integer >= 0")
        _need(self.test_tasks == 0 or self.method in ADAPT_METHODS, "test_tasks", self.test_tasks,
              f"0 for method={self.method!r} (test tracking is for {ADAPT_METHODS})")

    def to_dict(self) -> dict:
        """The fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """SHA-256 of the fields (a checkpoint records it; another config's is refused)."""
        d = {k: v for k, v in self.to_dict().items() if _LATER_FIELDS.get(k, object()) != v}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    @property
    def tasks_per_epoch(self) -> int:
        """Training episodes per epoch."""
        return self.meta_batch * self.steps_per_epoch

    @property
    def images_per_step(self) -> int:
        """Images through the backbone per optimiser step (support plus query of every task)."""
        return self.meta_batch * self.n_way * (self.n_shot + self.n_query)
