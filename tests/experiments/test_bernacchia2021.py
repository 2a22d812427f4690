"""bernacchia2021 linear studies: named configs, and claims computed for the config that was run."""

import dataclasses

import jax.random as jr
import numpy as np
import pytest

from metagrad.experiments import ConfigError, get_study, merge_seeds
from metagrad.experiments import bernacchia2021 as B

FIGS = {
    "fig2": B.Fig2Config,
    "fig3": B.Fig3Config,
    "fig4": B.Fig4Config,
    "fig6a": B.Fig6Config,
    "fig6b": B.Fig6Config,
    "fig6c": B.Fig6Config,
    "fig6d": B.Fig6Config,
}


@pytest.mark.parametrize("name", sorted(FIGS))
def test_each_figure_has_its_named_config(name):
    st = get_study(f"bernacchia2021.{name}")
    assert st.Config is FIGS[name]
    assert isinstance(st.config("paper"), FIGS[name])
    with pytest.raises(ConfigError, match=FIGS[name].__name__):
        st.config("quick", ["not_a_key=1"])


def test_paper_parameters_of_each_figure():
    assert (B.Fig2Config().p, B.Fig2Config().n_v, B.Fig2Config().m) == (60, 2, 3)
    f3 = B.Fig3Config()
    assert (f3.p, f3.n_t, f3.n_v, f3.n_r, f3.m, f3.sigma, f3.nu) == (30, 5, 25, 10, 40, 0.2, 0.2)
    assert B.Fig4Config().covariance == "wishart" and B.Fig4Config().n_runs == 500
    fig6 = {
        k: get_study(f"bernacchia2021.{k}").config("paper")
        for k in ("fig6a", "fig6b", "fig6c", "fig6d")
    }
    assert {k: c.n_v * c.m for k, c in fig6.items()} == {
        "fig6a": 2,
        "fig6b": 25,
        "fig6c": 100,
        "fig6d": 400,
    }
    assert all(c.w0 == 0.1 and c.p == 50 and c.n_t == c.n_r == 40 for c in fig6.values())
    quick = get_study("bernacchia2021.fig6d").config("quick")
    assert (quick.n_v, quick.m, quick.n_runs) == (40, 10, 200)
    # the field docs and ranges are those of the base config
    meta = {f.name: f.metadata for f in dataclasses.fields(B.LinearMAMLConfig)}
    assert all(f.metadata == meta[f.name] for f in dataclasses.fields(B.Fig3Config))
    with pytest.raises(ConfigError, match="p="):
        B.Fig3Config.build({"p": 0})


def _fake_result(key, cfg, alpha_r_star):
    """A LinearResult with random positive losses and the given optimal alpha_r."""
    ks = jr.split(key, 8)
    n = cfg.n_grid

    def pos(k, shape, lo=1.0, hi=2.0):
        return np.asarray(jr.uniform(k, shape, minval=lo, maxval=hi))

    panel = lambda k: B.Panel(  # noqa: E731
        pos(k, (n,)),
        pos(jr.fold_in(k, 1), (n,), 1e-3, 2e-3),
        pos(jr.fold_in(k, 2), (B.N_FINE,)),
        pos(jr.fold_in(k, 3), (n,)),
    )
    return B.LinearResult(
        a=panel(ks[0]),
        b=panel(ks[1]),
        sampled_diff=None,
        sampled_diff_se=None,
        theory_argmin_alpha_t=-float(pos(ks[2], ())),
        theory_argmin_alpha_r=alpha_r_star,
        mc_argmin_alpha_t=-float(pos(ks[3], ())),
        mc_argmin_alpha_r=alpha_r_star,
        mc_at_zero_minus_min=float(pos(ks[4], ())),
        mc_at_zero_minus_min_se=1e-3,
    )


def test_alpha_r_bound_uses_the_config_that_was_run(getkey):
    """The old bug: the bound 1/(1+(p+1)/n_r) came from the defaults, not from `--set p=.. n_r=..`."""
    st = get_study("bernacchia2021.fig2")
    default = st.config("quick")
    changed = st.config("quick", ["p=30", "n_r=100"])
    lo, hi = default.alpha_r_bound, changed.alpha_r_bound
    assert lo == pytest.approx(1 / (1 + 61 / 20)) and hi == pytest.approx(1 / (1 + 31 / 100))
    # an optimal alpha_r between the two bounds: inside for the run's config, outside for defaults
    star = float(jr.uniform(getkey(), (), minval=lo + 0.01, maxval=hi - 0.01))
    seeds = merge_seeds([_fake_result(getkey(), changed, star)])
    name = "optimal alpha_r in (0, 1/(1+(p+1)/n_r))"

    def verdicts(cfg):
        return {
            c.name: c
            for c in st.figures["bernacchia2021.fig2"].claims(cfg, seeds)
            if name in c.name
        }

    ran, defaults = verdicts(changed), verdicts(default)
    assert len(ran) == 2 and all(c.passed for c in ran.values())
    assert all(c.target == f"(0, {hi:.4f})" for c in ran.values())
    assert not any(c.passed for c in defaults.values())  # what the old code would have said


def test_z_tolerance_is_a_bonferroni_bound():
    from scipy.stats import norm

    for n in (2, 14, 50):
        k = B.z_tolerance(n)
        assert n * 2 * norm.sf(k) == pytest.approx(0.01)
    assert B.z_tolerance(50) > B.z_tolerance(14)
    with pytest.raises(ValueError, match="n_points"):
        B.z_tolerance(0)


def _theory_checks(cfg, res):
    return {
        c.name: c
        for c in B.linear_claims(cfg, res, accurate=True, zero_gap=False)
        if c.name.startswith("theory = MC")
    }


def test_theory_vs_mc_tolerance_is_in_standard_errors(getkey):
    """Noise of 1 SE passes; a shift of a few per cent (many SE) fails, whatever its sign."""
    cfg = get_study("bernacchia2021.fig6a").config("quick")
    base = _fake_result(getkey(), cfg, 0.3)
    k = B.z_tolerance(2 * cfg.n_grid)

    def with_mc(shift_a, shift_b):
        a = dataclasses.replace(base.a, mc=base.a.theory_grid + shift_a * base.a.mc_se)
        b = dataclasses.replace(base.b, mc=base.b.theory_grid + shift_b * base.b.mc_se)
        return merge_seeds([dataclasses.replace(base, a=a, b=b)])

    noise = np.asarray(jr.uniform(getkey(), (2, cfg.n_grid), minval=-1, maxval=1))
    ok = _theory_checks(cfg, with_mc(noise[0], noise[1]))
    assert len(ok) == 2 and all(c.passed and c.tolerance == pytest.approx(k) for c in ok.values())
    # a relative error of 3.5% of the loss (the old flat budget was 3% + 3 SE) is ~20 SE here
    shift = 0.035 * base.b.theory_grid / base.b.mc_se
    bad = _theory_checks(cfg, with_mc(noise[0], noise[1] - shift))
    assert [c.passed for c in bad.values()] == [False, True]
