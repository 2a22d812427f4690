"""Studies: each computes one result that feeds the figures, tables and claims registered against it.

Each module here (one or more per paper) defines :class:`Study` objects; they are discovered
automatically, so adding a module is enough to add studies. See ``selfcheck.py`` for the form.
"""

from metagrad.experiments._config import ConfigError as ConfigError
from metagrad.experiments._config import ExperimentConfig as ExperimentConfig
from metagrad.experiments._config import param as param
from metagrad.experiments._fingerprint import code_fingerprint as code_fingerprint
from metagrad.experiments._result import Seeds as Seeds
from metagrad.experiments._result import flatten as flatten
from metagrad.experiments._result import merge_seeds as merge_seeds
from metagrad.experiments._result import nonfinite as nonfinite
from metagrad.experiments._result import tree_map as tree_map
from metagrad.experiments._result import unflatten as unflatten
from metagrad.experiments._study import Check as Check
from metagrad.experiments._study import FigureSpec as FigureSpec
from metagrad.experiments._study import Study as Study
from metagrad.experiments._study import check_close as check_close
from metagrad.experiments._study import check_true as check_true
from metagrad.experiments._study import get_figure as get_figure
from metagrad.experiments._study import get_study as get_study
from metagrad.experiments._study import list_figures as list_figures
from metagrad.experiments._study import list_studies as list_studies
from metagrad.experiments._study import resolve as resolve

__all__ = [
    "Check",
    "ConfigError",
    "ExperimentConfig",
    "FigureSpec",
    "Seeds",
    "Study",
    "check_close",
    "check_true",
    "code_fingerprint",
    "flatten",
    "get_figure",
    "get_study",
    "list_figures",
    "list_studies",
    "merge_seeds",
    "nonfinite",
    "param",
    "resolve",
    "tree_map",
    "unflatten",
]
