"""Example DCC inputs generated from the test PKI (``fixtures/dcc``): 6.23 requests and an ADT file.

Everything is derived from the deterministic test PKI, so regenerating gives the same bytes and
a test checks the committed files still match. The requests mirror the three DCC template
variants (immediate, future-dated, cancellation) with the project's own parties: supplier B
(the gaining supplier, MPIDs SUPB and SUPC) replacing supplier A on the test ESME.

Regenerate with ``python -m rig.dcc.examples fixtures/pki fixtures/dcc``.
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto import Usage

from .duis_xml import request_xml
from .ids import eui_text
from .request import DUIS_CANCELLATION, RequestId, UpdateSecurityCredentialsCoS, XmlSigner

EXAMPLE_MPXN = "1300000000017"
FUTURE = _dt.datetime(2030, 1, 2, tzinfo=_dt.UTC)
REQUEST_FILE = "CS02bSupplierByTransCoS_6.23_{variant}_REQUEST_DUIS.XML"
ADT_FILE = "ADT_supplier_b.csv"


def example_request(pki, *, counter: int = 1001, execution: _dt.datetime | None = None,
                    device: str = "esme", supplier: str = "supplier_b", **changes) -> UpdateSecurityCredentialsCoS:
    """A 6.23 from ``supplier`` for ``device`` that passes every DSP check against ``example_device``."""

    def der(usage: Usage) -> bytes:
        return pki.credential(supplier, usage).certificate.public_bytes(Encoding.DER)

    fields = dict(
        request_id=RequestId(pki.entity(supplier), pki.entity(device), counter),
        supplier_floor=0, prepayment_floor=0,
        ds_certificate=der(Usage.DS), ka_certificate=der(Usage.KA), ka_top_up_certificate=der(Usage.PP_KA),
        certification_path=(pki.issuing_ca.certificate.public_bytes(Encoding.DER),),
        apply_time_based_checks=True, import_mpxn=EXAMPLE_MPXN, execution_datetime=execution,
        signer=XmlSigner.of(pki.xml_signing[supplier].certificate),
    )
    fields.update(changes)
    return UpdateSecurityCredentialsCoS(**fields)


def example_adt(pki, *, sequence: int = 1, daily_623: int = 100, supplier: str = "supplier_b") -> str:
    """An ADT file in the project's layout (see ``rig.dcc.adt``) for ``supplier``."""
    signing = pki.xml_signing[supplier].certificate
    return "\n".join([
        eui_text(pki.entity(supplier)),
        f"SequenceNumber,{sequence}",
        f"6.23,{daily_623},{daily_623},1440",
        "1.1.1,999999,999999,1440",
        "2.2,999999,999999,60",
        f"Signature,{signing.issuer.rfc4514_string().replace('=', '%3D').replace(',', '%2C')},"
        f"{signing.serial_number},NOT-SIGNED-EXAMPLE",
    ]) + "\n"


def generate_examples(pki) -> dict[str, bytes]:
    requests = {
        "IMMEDIATE": example_request(pki, counter=1001),
        "FUTURE_DATED": example_request(pki, counter=1002, execution=FUTURE),
        "CANCELLATION": example_request(pki, counter=1003, execution=DUIS_CANCELLATION),
    }
    files = {REQUEST_FILE.format(variant=variant): request_xml(request) for variant, request in requests.items()}
    files[ADT_FILE] = example_adt(pki).encode()
    return files


def write_examples(pki, directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in sorted(generate_examples(pki).items()):
        (out / name).write_bytes(data)
        paths.append(out / name)
    return paths


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    from rig.pki import load

    for written in write_examples(load(sys.argv[1]), sys.argv[2]):
        print(written)
