"""The α* studies' claims catch a scale error in `alpha_star_limit` (Eq. 3.3), and fig8's rate claims
catch an error floor.

Each test runs a small configuration twice: as is (the new claims pass) and with a deliberate bug
patched in (they fail).
"""

import numpy as np
import pytest

from metagrad.experiments import get_figure, merge_seeds
from metagrad.theory import adaptation_lr as alr

_limit = alr.alpha_star_limit


def _doubled(**kw):
    return 2 * _limit(**kw)


def _claims(fig_id, overrides, key):
    fig = get_figure(fig_id)
    cfg = fig.study.config("quick", overrides)
    return {c.name: c for c in fig.claims(cfg, merge_seeds([fig.study.compute(cfg, key=key)]))}


@pytest.mark.parametrize(
    "fig_id, overrides, marker",
    [
        ("zou2022.fig4", {"n_var": 3, "n_rows": 20_000, "n_check_tasks": 2000}, "Eq. 3.3"),
        ("zou2022.fig9", {"n_train": 500, "n_test": 500}, "alpha_star_limit"),
    ],
)
def test_doubled_alpha_star_limit_fails_the_cross_checks(
    getkey, monkeypatch, fig_id, overrides, marker
):
    key = getkey()
    good = _claims(fig_id, overrides, key)
    new = [n for n in good if marker in n]
    assert new and all(good[n].passed for n in new), [(n, good[n].measured) for n in new]
    monkeypatch.setattr(alr, "alpha_star_limit", _doubled)
    bad = _claims(fig_id, overrides, key)
    assert not any(bad[n].passed for n in new)


def test_fig8_rate_claims_fail_on_an_error_floor(getkey, monkeypatch):
    """An α*(N) solver that stops at a 129-point grid (no refinement) leaves an error floor."""
    from metagrad.experiments.zou2022 import linear

    overrides = {"log2_n_max": 8, "n_trials": 4, "n_pop": 5000}
    key = getkey()
    good = _claims("zou2022.fig8", overrides, key)
    slopes = [n for n in good if "log-log slope" in n]
    assert len(slopes) == 6 and all(good[n].passed for n in slopes)

    def coarse(*, Phis, EG, EG2, EG3, alpha_max):
        grid = np.linspace(0, alpha_max, 129)
        r = alr.conditional_risk(alpha=grid, Phis=Phis, EG=EG, EG2=EG2, EG3=EG3)
        return float(grid[np.argmin(r)])

    monkeypatch.setattr(linear.alr, "alpha_star_finite", coarse)
    bad = _claims("zou2022.fig8", overrides, key)
    assert sum(not bad[n].passed for n in slopes) >= 3
