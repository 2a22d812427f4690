"""Each method as (algorithm, initial parameters, test-time head), from a `TrainConfig`."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from metagrad.algorithms import (
    MAML,
    MTL,
    R2D2,
    AbstractMetaAlgorithm,
    MTLParams,
    ProtoNet,
    anil,
    cross_entropy,
    fo_maml,
    head_only,
    init_mtl,
    maml,
)
from metagrad.algorithms._adapt import adapt_with_losses
from metagrad.algorithms._metaoptnet import MetaOptNet, svm_logits
from metagrad.data import l2_normalize, make_head
from metagrad.models import Conv4, ResNet12
from metagrad.tasks._task import Task
from metagrad.train._config import TrainConfig

__all__ = [
    "NormalizedANIL", "NormalizedHead", "NormalizedMTL", "alpha_star_online", "backbone_of", "build", "make_model",
    "test_head",
]


class NormalizedMTL(AbstractMetaAlgorithm):
    r"""MTL with L2-normalised features: logits $\bar\phi(X_i) W_{c_i}^\top$, $\bar\phi = \phi/\|\phi\|$.

    Wang, Zhao & Li (2021), Sec. 5.2 ("feature normalisation"); otherwise as `algorithms.MTL`:
    task i's head is the rows `heads[task.classes]` of the global head, loss on support ∪ query.
    """

    def task_loss(self, params: MTLParams, task: Task) -> tuple[Array, dict[str, Array]]:
        """Cross-entropy of one task with its rows of the global head, on normalised features."""
        x = jnp.concatenate([task.x_support, task.x_query], axis=0)
        y = jnp.concatenate([task.y_support, task.y_query], axis=0)
        logits = l2_normalize(params.model.features(x)) @ params.heads[task.classes].T
        return cross_entropy(logits, y), {}


class NormalizedHead(eqx.Module):
    r"""A network whose linear head sees L2-normalised features: logits $W\bar\phi(x) + b$.

    $\bar\phi = \phi/\|\phi\|$ with $\phi$ = `backbone.features` (Zou, Liu, Li 2022,
    Sec. 5.1: "we normalize the features before the last layer"). `head` is a copy of the
    backbone's head at construction; the backbone's own head is not used. ANIL adapts `head`.
    """

    backbone: eqx.Module
    head: eqx.nn.Linear

    def features(self, x: Array) -> Array:
        """L2-normalised features `[n, h]` of a batch."""
        return l2_normalize(self.backbone.features(x))

    def __call__(self, x: Array) -> Array:
        """Logits `[n, n_out]`."""
        return self.features(x) @ self.head.weight.T + self.head.bias


class _Linear(eqx.Module):
    """A linear head applied to features (the adapted part of `NormalizedANIL`)."""

    head: eqx.nn.Linear

    def __call__(self, f: Array) -> Array:
        return f @ self.head.weight.T + self.head.bias


class NormalizedANIL(MAML):
    """ANIL on a `NormalizedHead` model, the backbone evaluated once per support set.

    The same function as `algorithms.anil` (head-only adaptation) on that model: the inner loop
    adapts `model.head` on the support features `model.features(x)`, which are computed once
    and stay differentiable with respect to the backbone (second order unless `first_order`),
    instead of re-running the backbone at every inner step.
    """

    def adapt_with_losses(
        self, model: eqx.Module, support: tuple[Array, Array]
    ) -> tuple[eqx.Module, Array]:
        """The model with its head adapted on the support features, and the inner losses."""
        x, y = support
        head, losses = adapt_with_losses(
            _Linear(model.head), (model.features(x), y), loss=self.loss, lr=self.lr,
            steps=self.steps, first_order=self.first_order,
        )
        return eqx.tree_at(lambda m: m.head, model, head.head), losses


def alpha_star_online(features: Array, n_way: int, n_shot: int) -> Array:
    """App. H.3 estimate 1/(2·n_way·n_shot·σ̂²) from support features `[tasks, n, h]` (JAX).

    The traced twin of `metagrad.theory.adaptation_lr.alpha_star_anil_features` (centred σ̂²,
    mean over tasks), used inside the jitted meta-step.
    """
    u = l2_normalize(features)
    u = u - jnp.mean(u, axis=-2, keepdims=True)
    sigma2 = jnp.mean(u**2)
    return 1.0 / (2.0 * n_way * n_shot * sigma2)


def make_model(config: TrainConfig, image_shape: tuple[int, int, int], *, key: PRNGKeyArray):
    """The backbone of `config` (Conv-4 or ResNet-12) for images `(c, h, w)`, head of N outputs."""
    c, h, _ = image_shape
    if config.backbone == "conv4":
        return Conv4(config.n_way, config.filters, in_channels=c, image_size=h, key=key)
    f = config.filters
    return ResNet12(config.n_way, (f, int(2.5 * f), 5 * f, 10 * f), in_channels=c, key=key)


def build(
    config: TrainConfig, model: eqx.Module, n_train_classes: int, *, key: PRNGKeyArray
) -> tuple[AbstractMetaAlgorithm, eqx.Module | MTLParams]:
    """`(algorithm, initial parameters)` of `config.method` on `model`.

    MTL's parameters are `MTLParams(model, global head [n_train_classes, h])`; the others
    train the model itself.
    """
    m, n = config.method, config.n_way
    if m == "mtl":
        algo = NormalizedMTL() if config.normalize else MTL()
        return algo, init_mtl(model, n_train_classes, n, key=key)
    if config.head_normalize:
        model = NormalizedHead(model, model.head)
        if m == "anil":
            return NormalizedANIL(loss=cross_entropy, lr=config.inner_lr,
                                  steps=config.inner_steps, adapt_filter=head_only), model
    inner = {"loss": cross_entropy, "lr": config.inner_lr, "steps": config.inner_steps}
    algos = {
        "maml": lambda: maml(**inner),
        "fo_maml": lambda: fo_maml(**inner),
        "anil": lambda: anil(**inner),
        "protonet": lambda: ProtoNet(n),
        "r2d2": lambda: R2D2(n, config.ridge_lam, config.head_scale),
        "metaoptnet": lambda: MetaOptNet(
            n, C=config.svm_C, scale=config.head_scale, iters=config.svm_iters
        ),
    }
    return algos[m](), model


def backbone_of(params) -> eqx.Module:
    """The network inside the parameters (MTL's `params.model`, else `params`)."""
    return params.model if isinstance(params, MTLParams) else params


class AdaptHead(eqx.Module):
    """MAML / FO-MAML / ANIL test head: adapt the model on the support, predict the query.

    Used with `metagrad.data.evaluate` and backbone None (features are the flattened images).
    """

    model: eqx.Module
    algorithm: MAML
    image_shape: tuple[int, int, int] = eqx.field(static=True)

    def __call__(self, support: Array, labels: Array, query: Array, n_way: int) -> Array:
        """Query logits `[m, n_way]` of the model adapted to the support."""
        xs = support.reshape(support.shape[0], *self.image_shape)
        adapted = self.algorithm.adapt(self.model, (xs, labels))
        return adapted(query.reshape(query.shape[0], *self.image_shape))


class SVMHead(eqx.Module):
    """MetaOptNet's SVM head on frozen features (`algorithms._metaoptnet.svm_logits`)."""

    C: float = eqx.field(static=True)
    iters: int = eqx.field(static=True)

    def __call__(self, support: Array, labels: Array, query: Array, n_way: int) -> Array:
        """Query logits `[m, n_way]`."""
        return svm_logits(support, labels, query, n_way, C=self.C, iters=self.iters)


def test_head(config: TrainConfig, algorithm, params, image_shape, head: str | None = None):
    """`(backbone, head)` for `metagrad.data.evaluate`: the method's own test procedure.

    `head` (default `config.eval_head`) ``own`` gives: logistic regression (C=3, normalised
    features) for MTL, adaptation with `test_inner_steps` for MAML / FO-MAML / ANIL, the
    prototype, ridge or SVM head otherwise. A `metagrad.data` head name uses that head.
    """
    head = config.eval_head if head is None else head
    net = backbone_of(params)
    if head != "own":
        return net.features, make_head(head)
    m = config.method
    if m in ("maml", "fo_maml", "anil"):
        steps = config.test_inner_steps or config.inner_steps
        algo = dataclasses.replace(algorithm, steps=steps)
        return None, AdaptHead(net, algo, tuple(image_shape))
    named = {"mtl": ("logistic", {}), "protonet": ("prototype", {}),
             "r2d2": ("ridge", {"lam": config.ridge_lam})}
    if m in named:
        name, kw = named[m]
        return net.features, make_head(name, **kw)
    return net.features, SVMHead(config.svm_C, max(config.svm_iters, 100))


def split_key(key: PRNGKeyArray) -> tuple[PRNGKeyArray, PRNGKeyArray, PRNGKeyArray, PRNGKeyArray]:
    """`(model init, head init, training episodes, validation episodes)` keys of a run."""
    k = jr.split(key, 4)
    return k[0], k[1], k[2], k[3]
