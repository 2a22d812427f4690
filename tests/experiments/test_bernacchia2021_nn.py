"""bernacchia2021.fig5 helpers: divergence flags and config validation (no training)."""

import numpy as np
import pytest

from metagrad.experiments._config import ConfigError
from metagrad.experiments.bernacchia2021_nn import Fig5Config, _divergence_at_ends


@pytest.mark.parametrize(
    "flags,ok",
    [
        ([0, 0, 0, 0], True),
        ([1, 1, 0, 0, 1], True),
        ([0, 1, 0, 0], False),
        ([1, 1, 1], False),
    ],
)
def test_divergence_only_at_grid_ends(flags, ok):
    assert _divergence_at_ends(np.array(flags, bool)) is ok


def test_config_rejects_bad_values_before_compute():
    with pytest.raises(ConfigError, match="test_chunk"):
        Fig5Config.build({"n_test_tasks": 150, "test_chunk": 100})
    with pytest.raises(ConfigError, match="alpha_t_range"):
        Fig5Config.build({"alpha_t_range": (0.1, -0.1)})
    with pytest.raises(ConfigError):
        Fig5Config.build({"loss": "l1"})
