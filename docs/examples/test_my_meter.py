"""A manufacturer's own tests of a meter with the gbcs-rig ``dut`` fixture (docs/writing-tests.md).

Run from any folder with gbcs-rig installed: ``pytest test_my_meter.py`` (the package's emulated
rigs), or ``pytest test_my_meter.py --rig-config my-lab.toml`` (your meter).
"""

import datetime as dt

import pytest


@pytest.mark.rig_device("ESME", "GSME")
def test_migration_moves_the_meter_to_ecos(dut):
    outcome = dut.migrate()  # CS02b mode 6 signed by TCoS; the response verified with the meter's key
    assert outcome.success


@pytest.mark.rig_device("ESME", "GSME")
def test_change_of_supplier_after_migration_raises_n26(dut):
    dut.migrate()
    outcome = dut.change_supplier()  # an SRV 6.23 from the gaining supplier; the ECoS party signs it
    assert outcome.statuses == ("supplier/digital_signature=SUCCESS", "supplier/key_agreement=SUCCESS",
                                "supplier/key_agreement/prepayment_top_up=SUCCESS")
    dut.expect_alert("N26", timeout=1)  # the DCC tells the losing supplier


@pytest.mark.rig_device("ESME")
@pytest.mark.rig_feature("future_dated")
@pytest.mark.emulated_only  # it moves the meter's clock
def test_future_dated_change_of_supplier_alerts_0x8f66(dut):
    dut.migrate()
    when = (dut.now() + dt.timedelta(days=1)).replace(microsecond=0)
    dut.change_supplier(execution=when)  # the meter accepts it now and runs it at `when`
    dut.advance_clock(to=when + dt.timedelta(seconds=1))
    dut.expect_alert("0x8F66", timeout=2)  # executed: its signed alert, verified by the DCC side
    dut.expect_alert("N26", timeout=1)


@pytest.mark.rig_device("ESME", "GSME")
def test_a_bad_mac_is_discarded_with_0x8f3e(dut):
    command = dut.change_of_supplier_command()
    genuine = dut.seal(command)  # signed by the CoS party, MACed by the ACB
    spoiled = genuine[:-1] + bytes([genuine[-1] ^ 0x01])  # the last byte of the MAC
    dut.send(spoiled)
    dut.expect_no_response()  # silence alone proves nothing ...
    dut.expect_alert("0x8F3E", timeout=2)  # ... the meter's signed alert shows the probe reached it
    # the probe used up nothing: the genuine command, with the same counter, is accepted
    dut.send(genuine)
    dut.expect_response(status="SUCCESS")
