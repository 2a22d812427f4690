"""Registered experiments: one per figure or table of the five papers.

Each module here (one per paper) defines experiments with :func:`register`; they are discovered
automatically, so adding a module is enough to add experiments.
"""

from metagrad.experiments._base import (
    AbstractExperiment as AbstractExperiment,
    Check as Check,
    Result as Result,
    check_close as check_close,
    check_true as check_true,
    get_experiment as get_experiment,
    list_experiments as list_experiments,
    register as register,
)
from metagrad.experiments._config import (
    ConfigError as ConfigError,
    ExperimentConfig as ExperimentConfig,
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
