"""Fuzzing the config: any mapping (nested or dotted, valid or invalid keys, values of any YAML-ish type,
NaN and infinities included) given to ``hsframe.load_config`` is a resolved config or an HsframeError."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsframe import load_config
from hsframe.config import RunConfig, valid_keys
from hsframe.errors import HsframeError

KEYS = valid_keys()
SECTIONS = sorted({k.split(".")[0] for k in KEYS if "." in k})
# derandomize: the same examples on every CI run, so a failure is reproducible rather than a draw.
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["auto", "cpu", "reflect", "zero", "random", "blocks", "adam", "hybridsn", "1e-3", "nan", "inf"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                      max_leaves=8)
keys = st.one_of(
    st.sampled_from(KEYS), st.sampled_from(SECTIONS), st.sampled_from(["plugin", "model.dropout", "model_options.x.y", "split.x", ""]),
    st.text(max_size=15), st.builds(lambda a, b: f"{a}.{b}", st.sampled_from(SECTIONS), st.text(max_size=8)),
    st.integers(-3, 3), st.none(), st.booleans(), st.floats(allow_nan=True),
)
# A nested mapping: sections holding keys, keys holding values, as a YAML file or a Python caller writes it.
nested = st.recursive(st.dictionaries(keys, values, max_size=5), lambda inner: st.dictionaries(keys, st.one_of(values, inner), max_size=4),
                      max_leaves=12)


def _loaded_or_an_error(mapping) -> None:
    try:
        cfg = load_config(mapping)
    except HsframeError as exc:
        assert str(exc).strip()  # several bad values are one line each (errors.validation_message)
        return
    assert isinstance(cfg, RunConfig)


@FUZZ
@given(st.dictionaries(keys, values, max_size=6))
def test_a_random_dotted_mapping_is_a_config_or_an_error(mapping) -> None:
    _loaded_or_an_error(mapping)


@FUZZ
@given(nested)
def test_a_random_nested_mapping_is_a_config_or_an_error(mapping) -> None:
    _loaded_or_an_error(mapping)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=3))
def test_valid_keys_with_random_values_are_a_config_or_an_error(mapping) -> None:
    _loaded_or_an_error(mapping)


@pytest.mark.parametrize("mapping, expected", [
    ({"split.method": []}, r"unknown split method '\[\]' \(split\.method\)\. Available: blocks, files, fixed, random"),  # was TypeError
    ({"split": {"method": ["random"]}}, r"unknown split method '\['random'\]' \(split\.method\)"),  # was TypeError
    ({"train.lr": math.nan}, r"train\.lr"),
    ({"train.epochs": math.inf}, r"train\.epochs"),
])
def test_examples_the_fuzzing_found(mapping, expected) -> None:
    with pytest.raises(HsframeError, match=expected):
        load_config(mapping)
