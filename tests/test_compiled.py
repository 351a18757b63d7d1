"""The compiled schema must stay compiled: no interpreted fallbacks (construct-perf.md 1.2)."""

from __future__ import annotations

from rig.gbcs.codec import FRAME, compiled_frame
from rig.gbcs.registry import PAYLOAD_SCHEMAS


def test_frame_schema_has_no_interpreted_fallback():
    source = compiled_frame().source
    assert source.count("linkedinstances[") == 0
    assert source.count("linkedparsers[") == 0 and source.count("linkedbuilders[") == 0


def test_every_payload_schema_compiles_on_its_own():
    for key, schema in PAYLOAD_SCHEMAS.items():
        source = schema.compile().source
        assert "linkedinstances[" not in source, hex(key)


def test_interpreted_and_compiled_reject_the_same_bad_input(samples):
    from rig.gbcs import GbcsDecodeError, decode

    data = samples["CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND"]
    for cut in (5, 40, 300, len(data) - 1):
        errors = []
        for interpreted in (False, True):
            try:
                decode(data[:cut], interpreted=interpreted)
            except GbcsDecodeError as err:
                errors.append((err.reason, err.path, err.offset))
        assert len(errors) == 2 and errors[0] == errors[1]
    assert FRAME.payloads is PAYLOAD_SCHEMAS
