"""The LANTERN table: one row per key, each filling one settings attribute."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, fields

import pytest
from django.test import override_settings

from django_lantern import conf
from django_lantern._validators import AddError, Problems
from django_lantern.conf import GROUPS, KEYS, Group, field_name

# Attributes computed from several keys (conf._derive) or by validation itself.
NOT_FROM_A_ROW = {"request_id_meta_key", "request_id_header_key", "probe_paths", "readyz_check_prefix", "ignored"}


def test_every_attribute_comes_from_exactly_one_row() -> None:
    """Adding a key is one row (or Group) and one field: no field without a row, no two rows on one field."""
    from_rows = [field_name(key) for key in KEYS] + [group.field for group in GROUPS]
    assert len(from_rows) == len(set(from_rows))
    assert set(from_rows) | NOT_FROM_A_ROW == {f.name for f in fields(conf.LanternSettings)}


@pytest.mark.parametrize("key", sorted(KEYS))
def test_each_default_is_valid(key: str) -> None:
    """Every row's default passes its own validator without a problem."""
    problems = Problems()
    KEYS[key].validate(key, KEYS[key].default, problems)
    assert problems.errors == [] and problems.ignored == []


def test_a_bad_value_falls_back_to_the_default() -> None:
    """The settings built beside an error hold the default, so system checks can still run."""
    built, errors = conf.build_settings({"METRICS_MAX_LABEL_SETS": 0, "METRICS_NAMESPACE": "9x"})
    assert len(errors) == 2
    assert built.metrics_max_label_sets == 1000 and built.metrics_namespace == ""


def test_allowed_networks_are_parsed_once_and_bad_entries_ignored() -> None:
    """METRICS_ALLOWED_NETWORKS is parsed at validation; an invalid entry is ignored (E010 reports it)."""
    built, errors = conf.build_settings({"METRICS_ALLOWED_NETWORKS": ["203.0.113.0/24", "intranet"]})
    assert errors == []
    assert built.metrics_allowed_networks == (ipaddress.ip_network("203.0.113.0/24"),)
    assert built.ignored == (("METRICS_ALLOWED_NETWORKS", "intranet"),)


def test_allowed_networks_of_the_wrong_type_is_an_error() -> None:
    """A string instead of a list stops start-up with the fix."""
    _, errors = conf.build_settings({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8"})
    assert errors == [
        "LANTERN['METRICS_ALLOWED_NETWORKS'] is '10.0.0.0/8'; it must be a list of networks such as [\"10.0.0.0/8\"]."
    ]


def test_build_info_labels_are_read_from_the_settings() -> None:
    """METRICS_RELEASE and GCP_PROJECT are attributes; a release that is not a string is ignored, not fatal."""
    built, errors = conf.build_settings({"METRICS_RELEASE": 42, "METRICS_ENVIRONMENT": "prod", "GCP_PROJECT": "p1"})
    assert errors == []
    assert (built.metrics_release, built.metrics_environment, built.gcp_project) == (None, "prod", "p1")
    assert built.ignored == (("METRICS_RELEASE", 42),)


def test_errors_and_lenient_settings_follow_override_settings() -> None:
    """settings_errors() and settings_for_checks() read the current LANTERN, cached until it changes."""
    assert conf.settings_errors() == []
    with override_settings(LANTERN={"READINESS_TIMEOUT": "fast", "ACCESS_LOGGER": "web"}):
        assert conf.settings_errors() == ["LANTERN['READINESS_TIMEOUT'] is 'fast'; it must be a number >= 0.001."]
        lenient = conf.settings_for_checks()
        assert lenient.readiness_timeout == 0.5 and lenient.access_logger == "web"
    assert conf.settings_errors() == []
    assert conf.settings_for_checks().access_logger == "access"


def _parse_pair(values: Mapping[str, object], add_error: AddError) -> tuple[int, int]:
    low, high = values["PAIR_LOW"], values["PAIR_HIGH"]
    if not isinstance(low, int) or not isinstance(high, int) or low > high:
        add_error("PAIR_HIGH", high, "a whole number >= PAIR_LOW")
        return (0, 0)
    return (low, high)


@dataclass(frozen=True)
class _PairSettings(conf.LanternSettings):
    pair: tuple[int, int] = (0, 0)


def test_a_group_parses_several_keys_into_one_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Group's keys are known keys, parsed together, their errors named like any other."""
    monkeypatch.setattr(conf, "GROUPS", (Group({"PAIR_LOW": 1, "PAIR_HIGH": 5}, _parse_pair, "pair"),))
    monkeypatch.setattr(conf, "LanternSettings", _PairSettings)
    built, errors = conf.build_settings({"PAIR_HIGH": 9})
    assert errors == [] and isinstance(built, _PairSettings) and built.pair == (1, 9)
    _, errors = conf.build_settings({"PAIR_HIGH": 0})
    assert errors == ["LANTERN['PAIR_HIGH'] is 0; it must be a whole number >= PAIR_LOW."]
