"""Reading and writing DUIS 6.23 request files (``sr:Request`` with ``UpdateSecurityCredentialsCoS``).

The element names and namespaces are those of the DUIS schema and the DCC request templates
(``SmartDCCInnovation/duis-templates``): ``sr`` = ``http://www.dccinterface.co.uk/ServiceUserGateway``,
``ds`` = XML-DSig. The reader takes any file of that shape, including the DCC's templates.

The enveloped XML signature is neither made nor checked (out of scope). What the reader keeps is
who signed: the ``ds:X509Certificate`` when the file carries one, else the
``ds:X509IssuerSerial`` reference, resolved against the certificates the caller passes in
(a User's xmlSign certificates). The writer embeds the certificate and leaves DigestValue and
SignatureValue empty, with a comment saying the file is unsigned.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto.certs import load_certificate

from .request import SERVICE_REFERENCE, RequestError, RequestId, UpdateSecurityCredentialsCoS, XmlSigner

SR = "http://www.dccinterface.co.uk/ServiceUserGateway"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_VERSION = "5.2"  # what the DCC 6.23 templates declare [TPL]

_DER = Encoding.DER
_S = f"{{{SR}}}"
_D = f"{{{DS}}}"


class DuisFormatError(RequestError):
    """The file is not a well-formed DUIS 6.23 request; names the element at fault."""


# --------------------------------------------------------------------------------------------
# reading


def _child(parent: ET.Element, name: str, path: str, *, required: bool = True) -> ET.Element | None:
    node = parent.find(_S + name)
    if node is None and required:
        raise DuisFormatError(f"missing {path}/{name}")
    return node


def _text(parent: ET.Element, name: str, path: str, *, required: bool = True) -> str | None:
    node = _child(parent, name, path, required=required)
    if node is None:
        return None
    return (node.text or "").strip()


def _int(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise DuisFormatError(f"{what} is not an integer: {text!r}") from None


def _der(text: str | None, what: str) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DuisFormatError(f"{what} is not base64") from None


def _datetime(text: str | None) -> _dt.datetime | None:
    if text is None:
        return None
    try:
        value = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise DuisFormatError(f"ExecutionDateTime is not an xs:dateTime: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)  # xs:dateTime without offset: read as UTC
    return value.astimezone(_dt.UTC)


def _boolean(text: str, what: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise DuisFormatError(f"{what} is not an xs:boolean: {text!r}")


def _signer(root: ET.Element, candidates: list[x509.Certificate]) -> XmlSigner | None:
    data = root.find(f"{_D}Signature/{_D}KeyInfo/{_D}X509Data")
    if data is None:
        return None
    issuer = data.findtext(f"{_D}X509IssuerSerial/{_D}X509IssuerName")
    serial = _int(data.findtext(f"{_D}X509IssuerSerial/{_D}X509SerialNumber"), "X509SerialNumber")
    embedded = _der(data.findtext(f"{_D}X509Certificate"), "X509Certificate")
    certificate = embedded
    if certificate is None and serial is not None:
        for candidate in candidates:
            if candidate.serial_number == serial:
                certificate = candidate.public_bytes(_DER)
                break
    return XmlSigner(certificate, issuer.strip() if issuer else None, serial)


def parse_request(data: bytes | str, *,
                  signing_certificates: Iterable[x509.Certificate | bytes] = ()) -> UpdateSecurityCredentialsCoS:
    """A 6.23 request from DUIS XML; ``signing_certificates`` resolve an X509IssuerSerial reference."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise DuisFormatError(f"not XML: {err}") from None
    if root.tag != _S + "Request":
        raise DuisFormatError(f"root element is {root.tag}, not sr:Request")
    header = _child(root, "Header", "Request")
    reference = _text(header, "ServiceReference", "Header")
    variant = _text(header, "ServiceReferenceVariant", "Header")
    if reference != SERVICE_REFERENCE or variant != SERVICE_REFERENCE:
        raise DuisFormatError(f"ServiceReference {reference}/{variant} is not 6.23")
    body = _child(_child(root, "Body", "Request"), "UpdateSecurityCredentialsCoS", "Body")
    path = "UpdateSecurityCredentialsCoS"
    certificates = _child(body, "SupplierReplacementCertificates", path)
    where = f"{path}/SupplierReplacementCertificates"
    chain = _child(body, "CertificationPathCertificates", path)
    candidates = [c if isinstance(c, x509.Certificate) else load_certificate(c) for c in signing_certificates]
    try:
        return UpdateSecurityCredentialsCoS(
            request_id=RequestId.parse(_text(header, "RequestID", "Header")),
            command_variant=_int(_text(header, "CommandVariant", "Header"), "CommandVariant"),
            execution_datetime=_datetime(_text(body, "ExecutionDateTime", path, required=False)),
            supplier_floor=_int(_text(body, "SupplierFloorSeqNumber", path), "SupplierFloorSeqNumber"),
            prepayment_floor=_int(_text(body, "SupplierPrepaymentTopUpFloorSeqNumber", path, required=False),
                                  "SupplierPrepaymentTopUpFloorSeqNumber"),
            ds_certificate=_der(_text(certificates, "DigitalSigningCertificate", where), "DigitalSigningCertificate"),
            ka_certificate=_der(_text(certificates, "KeyAgreementCertificate", where, required=False),
                                "KeyAgreementCertificate"),
            ka_top_up_certificate=_der(_text(certificates, "KeyAgreementTopUpCertificate", where, required=False),
                                       "KeyAgreementTopUpCertificate"),
            certification_path=tuple(_der((node.text or ""), "CertificationPathCertificates/Certificate")
                                     for node in chain.findall(_S + "Certificate")),
            apply_time_based_checks=_boolean(_text(body, "ApplyTimeBasedCPVChecks", path), "ApplyTimeBasedCPVChecks"),
            import_mpxn=_text(body, "ImportMPxN", path),
            signer=_signer(root, candidates),
        )
    except DuisFormatError:
        raise
    except RequestError as err:
        raise DuisFormatError(str(err)) from None


def load_request(path: str | Path, **kwargs) -> UpdateSecurityCredentialsCoS:
    return parse_request(Path(path).read_bytes(), **kwargs)


# --------------------------------------------------------------------------------------------
# writing


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _xs_datetime(value: _dt.datetime) -> str:
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ET.Element, name: str, text: str | None = None, ns: str = _S) -> ET.Element:
    node = ET.SubElement(parent, ns + name)
    if text is not None:
        node.text = text
    return node


def _signature(root: ET.Element, signer: XmlSigner | None) -> None:
    signature = _add(root, "Signature", ns=_D)
    signature.append(ET.Comment(" written by gbcs-rig: NOT signed (DigestValue and SignatureValue are empty) "))
    info = _add(signature, "SignedInfo", ns=_D)
    _add(info, "CanonicalizationMethod", ns=_D).set("Algorithm", "http://www.w3.org/2001/10/xml-exc-c14n#")
    _add(info, "SignatureMethod", ns=_D).set("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256")
    reference = _add(info, "Reference", ns=_D)
    reference.set("URI", "")
    transforms = _add(reference, "Transforms", ns=_D)
    _add(transforms, "Transform", ns=_D).set("Algorithm", "http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    _add(reference, "DigestMethod", ns=_D).set("Algorithm", "http://www.w3.org/2001/04/xmlenc#sha256")
    _add(reference, "DigestValue", "", ns=_D)
    _add(signature, "SignatureValue", "", ns=_D)
    if signer is None:
        return
    data = _add(_add(signature, "KeyInfo", ns=_D), "X509Data", ns=_D)
    issuer, serial = signer.issuer, signer.serial
    if signer.certificate is not None:
        complete = XmlSigner.of(signer.certificate)
        issuer = issuer or complete.issuer
        serial = serial if serial is not None else complete.serial
    if issuer is not None and serial is not None:
        pair = _add(data, "X509IssuerSerial", ns=_D)
        _add(pair, "X509IssuerName", issuer, ns=_D)
        _add(pair, "X509SerialNumber", str(serial), ns=_D)
    if signer.certificate is not None:
        _add(data, "X509Certificate", _b64(signer.certificate), ns=_D)


def request_xml(request: UpdateSecurityCredentialsCoS, *, schema_version: str = SCHEMA_VERSION,
                embed_certificate: bool = True) -> bytes:
    """DUIS XML for ``request`` (UTF-8, indented); ``parse_request`` reads it back equal.

    ``embed_certificate=False`` writes only the X509IssuerSerial reference, as the DCC
    templates do; the reader then needs the certificate passed in.
    """
    ET.register_namespace("sr", SR)
    ET.register_namespace("ds", DS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(_S + "Request", {"schemaVersion": schema_version})
    header = _add(root, "Header")
    _add(header, "RequestID", str(request.request_id))
    _add(header, "CommandVariant", str(request.command_variant))
    _add(header, "ServiceReference", SERVICE_REFERENCE)
    _add(header, "ServiceReferenceVariant", SERVICE_REFERENCE)
    body = _add(_add(root, "Body"), "UpdateSecurityCredentialsCoS")
    if request.execution_datetime is not None:
        _add(body, "ExecutionDateTime", _xs_datetime(request.execution_datetime))
    _add(body, "SupplierFloorSeqNumber", str(request.supplier_floor))
    if request.prepayment_floor is not None:
        _add(body, "SupplierPrepaymentTopUpFloorSeqNumber", str(request.prepayment_floor))
    certificates = _add(body, "SupplierReplacementCertificates")
    _add(certificates, "DigitalSigningCertificate", _b64(request.ds_certificate))
    if request.ka_certificate is not None:
        _add(certificates, "KeyAgreementCertificate", _b64(request.ka_certificate))
    if request.ka_top_up_certificate is not None:
        _add(certificates, "KeyAgreementTopUpCertificate", _b64(request.ka_top_up_certificate))
    chain = _add(body, "CertificationPathCertificates")
    for cert in request.certification_path:
        _add(chain, "Certificate", _b64(cert))
    _add(body, "ApplyTimeBasedCPVChecks", "true" if request.apply_time_based_checks else "false")
    _add(body, "ImportMPxN", request.import_mpxn)
    signer = request.signer
    if signer is not None and not embed_certificate and signer.certificate is not None:
        complete = XmlSigner.of(signer.certificate)
        signer = XmlSigner(None, signer.issuer or complete.issuer, signer.serial if signer.serial is not None
                           else complete.serial)
    _signature(root, signer)
    ET.indent(root, "  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def write_request(request: UpdateSecurityCredentialsCoS, path: str | Path, **kwargs) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(request_xml(request, **kwargs))
    return target
