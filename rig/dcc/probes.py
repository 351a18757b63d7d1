"""Requests that fail exactly one DSP check each: the probes of the SRV 6.23 check scenarios.

Each entry breaks the request (or the device's registration data) so that one check of
``rig.dcc.checks.CHECKS`` fails and every other passes; ``EXPECTED_CODES`` is the response code
the default table gives it. Tests and the scenario catalogue share them.
"""

from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto.certs import key_id_method2
from rig.gbcs import KeyUsage, RemotePartyRole
from rig.pki import profiles
from rig.pki.generate import ORG_VALIDITY, derive_key

from .request import XmlSigner

DER = Encoding.DER


def _der(cert):
    return cert.public_bytes(DER)


def _supplier_signed_without_xml_role(pki):
    """Supplier B's MPIDs and entity id, but role supplier (02) instead of xmlSign."""
    key = derive_key(pki.seed, "test/not-xml-sign")
    spec = pki.parties["supplier_b"]
    ca = pki.issuing_ca
    issuer = profiles.Issuer(ca.certificate.subject, ca.private_key, key_id_method2(ca.private_key.public_key()))
    cert = profiles.organisation_certificate(
        key.public_key(), issuer, entity_id=spec.entity_id, role=RemotePartyRole.SUPPLIER,
        key_usage=KeyUsage.DIGITAL_SIGNATURE, serial=12345, not_before=ORG_VALIDITY[0], not_after=ORG_VALIDITY[1],
        common_name=spec.common_name, mpids=spec.mpids)
    return XmlSigner.of(cert)


#: check -> (how to break the request, how to break the inventory record), each breaking that check only
CASES = {
    "xml_sign_role": (lambda pki, r: replace(r, signer=_supplier_signed_without_xml_role(pki)), None),
    "certificates_decode": (lambda pki, r: replace(r, ka_certificate=b"\x30\x03\x02\x01\x00"), None),
    "user_id": (lambda pki, r: replace(r, request_id=replace(r.request_id, user_id=pki.entity("supplier_a"))),
                None),
    "mpid": (None, {"supplier_mpid": "SUPA"}),
    "mpxn": (lambda pki, r: replace(r, import_mpxn="1300000000099"), None),
    "certificate_count": (lambda pki, r: replace(r, ka_top_up_certificate=None, prepayment_floor=None), None),
    "supplier_role": (lambda pki, r: replace(r, ds_certificate=_der(
        pki.variants["wrong_role_supplier_b_ds"].certificate)), None),
    "key_usage": (lambda pki, r: replace(r, ds_certificate=_der(
        pki.variants["wrong_key_usage_supplier_b_ds"].certificate)), None),
    "prepayment_floor": (lambda pki, r: replace(r, prepayment_floor=None), None),
    "issuing_ca_included": (lambda pki, r: replace(r, ds_certificate=_der(
        pki.variants["unknown_ca_supplier_b_ds"].certificate)), None),
    "included_ca_used": (lambda pki, r: replace(r, certification_path=(
        *r.certification_path, _der(pki.unknown_ca.certificate))), None),
}

EXPECTED_CODES = {"xml_sign_role": "E65", "certificates_decode": "E1007", "user_id": "E66", "mpid": "E67",
                  "mpxn": "E062305", "certificate_count": "E68", "supplier_role": "E69", "key_usage": "E70",
                  "prepayment_floor": "E71", "issuing_ca_included": "E1007", "included_ca_used": "E1007"}
