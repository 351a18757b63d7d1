"""Lab overrides of the DCC tables: TOML and dict, marked as overrides, typos refused."""

from __future__ import annotations

import pytest

from rig.dcc import CHECKS, AttemptResult, ConfigError, CredentialStatus, DccConfig, Element, RowStatus
from rig.dcc.tables import ALERT_RULES, ECOS_ERROR_CODES, RESPONSE_CODES, Payload, Recipient

from ..vectors import FIXTURES

EXAMPLE_OVERRIDES = FIXTURES / "dcc" / "dcc-overrides.example.toml"
DOCS = FIXTURES.parent / "docs" / "dcc.md"


def test_the_docs_list_every_row():
    """docs/dcc.md is the page a lab reads: every check, code, trigger and error code is on it."""
    text = DOCS.read_text()
    for row in RESPONSE_CODES:
        assert f"| `{row.check}` |" in text and row.code in text
    for rule in ALERT_RULES:
        assert f"| `{rule.trigger}` | {rule.code} |" in text
    for cause, code in ECOS_ERROR_CODES.items():
        assert f"`{cause}` {code}" in text
    for spec in CHECKS:
        assert spec.clause in text


def test_only_e65_is_marked_confirmed():
    confirmed = [row.check for row in RESPONSE_CODES if row.status is RowStatus.CONFIRMED]
    assert confirmed == ["xml_sign_role"]
    assert all(rule.status is RowStatus.READING for rule in ALERT_RULES)


def test_the_shipped_example_override_file_loads():
    config = DccConfig.from_toml(EXAMPLE_OVERRIDES)
    assert config.response_code("mpid").code == "E062302"
    assert config.response_code("mpid").status is RowStatus.OVERRIDE
    assert config.response_code("user_id").status is RowStatus.READING  # untouched rows keep theirs
    assert config.alert_rules["anomaly_detection_breach"].code == "N26"
    assert config.alert_rules["anomaly_detection_breach"].payload is Payload.CHANGE_OF_SUPPLIER
    assert config.retry.attempts == 5 and config.retry.interval_s == 3600
    assert config.routing[CredentialStatus.UNKNOWN] == "tcos"
    assert config.target_for("SMETS2") == 35.0


def test_dict_overrides_cover_every_section():
    config = DccConfig().with_overrides({
        "alerts": {"cos_completed": {"enabled": False, "recipient": "responsible_supplier"}},
        "ecos_error_codes": {"NO_RESPONSE": "TMO", "LINK_LOST": ""},
        "replacement_elements": {"HCALCS": ["DS"]},
        "target_response_s": {"SMETS1": 30},
        "routing": {"UNKNOWN": "ecos", "TCOS": ""},
        "retry": {"retry_on": ["NO_RESPONSE"]},
        "anomaly_detection": {"critical_srvs": ["7.1"], "comparison": "ge"},
        "migration": {"disapply_time_checks": False},
        "cos": {"current_party": "tcos", "response_timeout_s": 60},
        "ecosmig": {"rows_count": "detail"},
    })
    assert config.alert_rule("cos_completed") is None
    assert config.alert_rules["cos_completed"].recipient is Recipient.RESPONSIBLE_SUPPLIER
    assert config.ecos_error_codes[AttemptResult.NO_RESPONSE] == "TMO"
    assert config.replacement_elements["HCALCS"] == (Element.DS,)
    assert config.target_for("SMETS1") == 30.0
    assert config.routing[CredentialStatus.TCOS] is None and config.routing[CredentialStatus.UNKNOWN] == "ecos"
    assert config.retry.retry_on == frozenset({AttemptResult.NO_RESPONSE})
    assert config.critical_srvs == ("7.1",) and config.adt_comparison == "ge"
    assert config.migration_disapply_time_checks is False and config.current_cos_party == "tcos"
    assert config.response_timeout_s == 60 and config.ecosmig_rows_count == "detail"
    assert DccConfig().alert_rule("cos_completed") is not None  # the default is untouched


@pytest.mark.parametrize("overrides", [
    {"response_code": {}},
    {"response_codes": {"mpid": {"cod": "E1"}}},
    {"alerts": {"cos_completed": {"recipient": "nobody"}}},
    {"ecos_error_codes": {"NO_RESPONSE": "TOOLONG"}},
    {"ecos_error_codes": {"NOT_A_CAUSE": "ABC"}},
    {"routing": {"TCOS": "somebody"}},
    {"retry": {"attempts": 0}},
    {"retry": {"tries": 3}},
    {"anomaly_detection": {"comparison": "lt"}},
    {"cos": {"current_party": "dcc"}},
    {"ecosmig": {"colour": "blue"}},
    {"migration": {"disapply_time_checks": "yes"}},
    {"cos": {"response_timeout_s": "soon"}},
])
def test_bad_overrides_are_refused(overrides):
    with pytest.raises(ConfigError):
        DccConfig().with_overrides(overrides)


def test_a_new_response_code_row_can_be_added():
    config = DccConfig().with_overrides({"response_codes": {"lab_extra": {
        "code": "E99", "meaning": "lab rule", "source": "lab"}}})
    assert config.response_code("lab_extra").code == "E99"
