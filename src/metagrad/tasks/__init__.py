"""metagrad.tasks: task distributions (samplers of support/query data)."""

from metagrad.tasks._task import Task as Task
from metagrad.tasks.fewshot import make_prototypes as make_prototypes
from metagrad.tasks.fewshot import sample_fewshot as sample_fewshot
from metagrad.tasks.fewshot import sample_fewshot_batch as sample_fewshot_batch
from metagrad.tasks.quadratic import sample_quadratic_tasks as sample_quadratic_tasks
from metagrad.tasks.sinusoid import sample_sinusoid as sample_sinusoid
from metagrad.tasks.sinusoid import sample_sinusoid_batch as sample_sinusoid_batch

__all__ = [
    "Task",
    "make_prototypes",
    "sample_fewshot",
    "sample_fewshot_batch",
    "sample_quadratic_tasks",
    "sample_sinusoid",
    "sample_sinusoid_batch",
]
