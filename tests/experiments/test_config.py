"""Config validation: bad values are rejected before compute, with the key and the allowed range."""

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metagrad.experiments import ConfigError, ExperimentConfig, get_study, list_studies, param


@dataclasses.dataclass(frozen=True)
class _Cfg(ExperimentConfig):
    N: int = param(10, "tasks", ge=1)
    K: int = param(2, "units", ge=1)
    lr: float = param(0.5, "learning rate", gt=0, le=10)
    lrs: tuple[float, ...] = param((0.1, 0.2), "rates", gt=0)
    act: str = param("erf", "activation", choices=("erf", "linear"))
    flag: bool = param(False, "a switch")

    def check(self):
        if self.K > self.N:
            raise ConfigError(f"K={self.K} must be <= N={self.N}.")


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"N": -3}, "N=-3 is out of range: expected >= 1"),
        ({"lr": 0.0}, "lr=0.0 is out of range: expected > 0 and <= 10"),
        ({"lr": float("nan")}, "lr=nan is not allowed"),
        ({"lrs": (0.1, -1.0)}, "lrs=-1.0 is out of range"),
        ({"act": "relu"}, "act='relu' is not allowed: expected one of 'erf', 'linear'"),
        ({"N": 2.5}, "N=2.5 has the wrong type: expected an integer"),
        ({"N": "ten"}, "N='ten' has the wrong type"),
        ({"flag": "yes"}, "flag='yes' has the wrong type: expected true or false"),
        ({"lrs": 0.3}, "lrs=0.3 has the wrong type: expected a sequence"),
        ({"K": 5, "N": 3}, "K=5 must be <= N=3"),
        ({"Q": 1}, "unknown config key(s) Q"),
    ],
)
def test_invalid_values_name_the_key_and_range(values, fragment):
    with pytest.raises(ConfigError) as err:
        _Cfg.build(values)
    assert fragment in str(err.value)


def test_valid_values_are_coerced_and_frozen():
    cfg = _Cfg.build({"lr": 1, "lrs": [1, 2], "N": 4.0})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.lrs == (1.0, 2.0) and cfg.N == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 3.0
    assert cfg.replace(K=3).K == 3 and cfg.K == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lr=3", ("lr", 3)),
        ("lrs=[1,2.5]", ("lrs", (1, 2.5))),
        ("lrs=(-0.5, 2)", ("lrs", (-0.5, 2))),
        ("lrs=(3,)", ("lrs", (3,))),
        ("act=linear", ("act", "linear")),
        ("flag=true", ("flag", True)),
    ],
)
def test_parse_override(text, expected):
    assert _Cfg.parse_override(text) == expected


@pytest.mark.parametrize("text", ["lr", "nokey=1"])
def test_bad_override(text):
    with pytest.raises(ConfigError):
        _Cfg.parse_override(text)


def test_study_config_scales_and_unknown_id():
    exp = get_study("selfcheck.erf_i2")
    assert exp.config("quick").n_samples < exp.config("paper").n_samples
    assert exp.config("quick", ["n_samples=500"]).n_samples == 500
    with pytest.raises(ConfigError, match="scale='huge'"):
        exp.config("huge")
    with pytest.raises(ConfigError, match="Did you mean: selfcheck.erf_i2"):
        get_study("selfcheck.erf_i3")


@pytest.mark.parametrize("text", ["lr=Infinity", "lr=-Infinity", "lr=NaN", "lrs=[0.1,Infinity]"])
def test_non_finite_numbers_are_refused_everywhere(text):
    with pytest.raises(ConfigError, match="finite"):
        _Cfg.build(dict([_Cfg.parse_override(text)]))


_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["Infinity", "-Infinity", "NaN", "nan", "inf", "1e309", "-0", "1e-300", "2**63"]),
)
_ATOMS = st.one_of(
    _NUMBERS, st.sampled_from(["true", "false", "null", '""', "erf", "[]", "()", "{}", "[[1]]"]),
    st.text(max_size=8),
)
_VALUES = st.one_of(
    _ATOMS,
    st.lists(_NUMBERS, max_size=5).map(lambda xs: "[" + ",".join(xs) + "]"),
    st.lists(_NUMBERS, max_size=4).map(lambda xs: "(" + ",".join(xs) + ")"),
)


@pytest.mark.parametrize("study_id", sorted(s.id for s in list_studies()))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_overrides_give_a_config_or_a_config_error_naming_the_key(study_id, data):
    """Issue 11: every `--set` string is either a valid config or a ConfigError naming the key."""
    study = get_study(study_id)
    keys = [f.name for f in dataclasses.fields(study.Config)]
    key = data.draw(st.one_of(st.sampled_from(keys), st.text(min_size=1, max_size=6)))
    text = f"{key}={data.draw(_VALUES)}"
    try:
        cfg = study.config("quick", [text])
    except ConfigError as err:
        k = text.split("=", 1)[0].strip()  # the key as the parser reads it
        assert k in str(err) or repr(k) in str(err), (text, str(err))
    else:
        assert isinstance(cfg, study.Config)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("eta_w=[]", "has 0 elements: expected 2"),
        ("eta_w=[3]", "has 1 elements: expected 2"),
        ("eta_w=[3,9,6]", "has 3 elements: expected 2"),
        ("record_every=6000", "record_every=6000 is more than the"),
        ("alpha_t_range=[-Infinity,3]", None),
    ],
)
def test_list_lengths_and_record_interval_checked_before_compute(override, fragment):
    """Issue 11 item 5: list lengths and the record interval are validated when the config is built."""
    study_id = "bernacchia2021.fig2" if fragment is None else "wang2024.fig3"
    from metagrad.experiments import resolve

    study, _ = resolve(study_id)
    with pytest.raises(ConfigError, match=fragment or "finite"):
        study.config("quick", [override])
