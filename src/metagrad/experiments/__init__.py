"""Registered experiments: one per figure or table of the five papers.

Each module here (one per paper) defines experiments with :func:`register`; they are discovered
automatically, so adding a module is enough to add experiments.
"""

from metagrad.experiments._base import (
    AbstractExperiment as AbstractExperiment,
)
from metagrad.experiments._base import (
    Check as Check,
)
from metagrad.experiments._base import (
    Result as Result,
)
from metagrad.experiments._base import (
    check_close as check_close,
)
from metagrad.experiments._base import (
    check_true as check_true,
)
from metagrad.experiments._base import (
    get_experiment as get_experiment,
)
from metagrad.experiments._base import (
    list_experiments as list_experiments,
)
from metagrad.experiments._base import (
    register as register,
)
from metagrad.experiments._config import (
    ConfigError as ConfigError,
)
from metagrad.experiments._config import (
    ExperimentConfig as ExperimentConfig,
)
from metagrad.experiments._config import (
    param as param,
)

__all__ = [
    "AbstractExperiment",
    "Check",
    "ConfigError",
    "ExperimentConfig",
    "Result",
    "check_close",
    "check_true",
    "get_experiment",
    "list_experiments",
    "param",
    "register",
]
