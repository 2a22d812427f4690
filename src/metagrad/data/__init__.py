"""metagrad.data: few-shot image datasets, episode sampling, test-time heads and evaluation."""

from metagrad.data._episodes import EpisodeSampler as EpisodeSampler
from metagrad.data._episodes import check_episode_shape as check_episode_shape
from metagrad.data._episodes import episode_indices as episode_indices
from metagrad.data._evaluate import EvalResult as EvalResult
from metagrad.data._evaluate import accuracy_ci as accuracy_ci
from metagrad.data._evaluate import evaluate as evaluate
from metagrad.data._glyphs import glyph_classes as glyph_classes
from metagrad.data._glyphs import glyphs as glyphs
from metagrad.data._glyphs import render_glyphs as render_glyphs
from metagrad.data._heads import HEADS as HEADS
from metagrad.data._heads import FinetuneHead as FinetuneHead
from metagrad.data._heads import LogisticHead as LogisticHead
from metagrad.data._heads import PrototypeHead as PrototypeHead
from metagrad.data._heads import RidgeHead as RidgeHead
from metagrad.data._heads import l2_normalize as l2_normalize
from metagrad.data._heads import make_head as make_head
from metagrad.data._heads import predict_batch as predict_batch
from metagrad.data._loaders import LayoutError as LayoutError
from metagrad.data._loaders import SourceClass as SourceClass
from metagrad.data._loaders import write_store as write_store
from metagrad.data._registry import DATASETS as DATASETS
from metagrad.data._registry import DatasetInfo as DatasetInfo
from metagrad.data._registry import digits as digits
from metagrad.data._registry import open_dataset as open_dataset
from metagrad.data._registry import prepare as prepare
from metagrad.data._store import SPLITS as SPLITS
from metagrad.data._store import ClassDataset as ClassDataset
from metagrad.data._store import data_dir as data_dir
from metagrad.data._store import from_arrays as from_arrays
from metagrad.data._store import load_dataset as load_dataset
from metagrad.data._store import save_dataset as save_dataset

__all__ = [
    "DATASETS",
    "HEADS",
    "SPLITS",
    "ClassDataset",
    "DatasetInfo",
    "EpisodeSampler",
    "EvalResult",
    "FinetuneHead",
    "LayoutError",
    "LogisticHead",
    "PrototypeHead",
    "RidgeHead",
    "SourceClass",
    "accuracy_ci",
    "check_episode_shape",
    "data_dir",
    "digits",
    "episode_indices",
    "evaluate",
    "from_arrays",
    "glyph_classes",
    "glyphs",
    "l2_normalize",
    "load_dataset",
    "make_head",
    "open_dataset",
    "predict_batch",
    "prepare",
    "render_glyphs",
    "save_dataset",
    "write_store",
]
