"""metagrad.tasks: task distributions (samplers of support/query data)."""

from metagrad.tasks._task import Task as Task
from metagrad.tasks.sinusoid import sample_sinusoid as sample_sinusoid
from metagrad.tasks.sinusoid import sample_sinusoid_batch as sample_sinusoid_batch

__all__ = ["Task", "sample_sinusoid", "sample_sinusoid_batch"]
