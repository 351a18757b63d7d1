"""Signatures and MACs over GBCS frames, on the exact byte ranges GBCS defines.

* Signature: ECDSA over ``frame[DF + 1 : end of payload]`` (grouping header after its tag,
  through the payload), placed as ``0x40 || r || s``.
* MAC: GMAC with AAD = ``security control || general-ciphering fields 1-5 ||
  frame[DF : end of signature field]`` and IV = originator id || invocation counter.

``seal`` builds a new message: encode with placeholders, sign, MAC, patch in place (no
second encode).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from rig.gbcs import FrameLayout, MacHeader, Message, decode, encode_with_layout, wrap_in_mac_header
from rig.gbcs.codec import encode_buffer

from .ecdsa import sign_raw, verify_raw
from .mac import ECDH_CACHE, EcdhCache, derive_key, equal, gmac

_SIGNATURE_PLACEHOLDER = bytes(64)
#: the only MAC header GBCS uses (security control 0x11, invocation counter 0, empty fields)
_GBCS_MAC_HEADER = MacHeader()


def signed_bytes(frame: bytes, layout: FrameLayout) -> bytes:
    return frame[layout.grouping_start + 1 : layout.payload_end]


def mac_aad(frame: bytes, layout: FrameLayout, message: Message) -> bytes:
    header = message.mac_header
    return bytes((header.security_control,)) + header.fields[:5] + frame[layout.grouping_start : layout.signature_end]


def mac_iv(message: Message) -> bytes:
    return bytes(message.originator_id) + message.mac_header.invocation_counter.to_bytes(4, "big")


def message_key(message: Message, private_key: ec.EllipticCurvePrivateKey,
                peer: ec.EllipticCurvePublicKey, cache: EcdhCache = ECDH_CACHE) -> bytes:
    """The message's AES key from one party's KA private key and the other's KA public key."""
    secret = cache.shared_secret(private_key, peer)
    return derive_key(secret, message.originator_id, int(message.cra_flag),
                      message.originator_counter, message.recipient_id)


def verify_signature(frame: bytes, message: Message, public_key: ec.EllipticCurvePublicKey) -> bool:
    """True when the frame carries a signature that ``public_key`` verifies."""
    signature, layout = message.signature, message.layout
    if signature is None or layout is None:
        return False
    return verify_raw(public_key, signed_bytes(frame, layout), signature)


def compute_mac(frame: bytes, message: Message, private_key: ec.EllipticCurvePrivateKey,
                peer: ec.EllipticCurvePublicKey, cache: EcdhCache = ECDH_CACHE) -> bytes:
    key = message_key(message, private_key, peer, cache)
    return gmac(key, mac_iv(message), mac_aad(frame, message.layout, message))


def verify_mac(frame: bytes, message: Message, private_key: ec.EllipticCurvePrivateKey,
               peer: ec.EllipticCurvePublicKey, cache: EcdhCache = ECDH_CACHE) -> bool:
    """True when the frame's MAC matches; either side's KA private key works (static ECDH)."""
    mac = message.mac
    if message.mac_header is None or mac is None or message.layout is None:
        return False
    return equal(compute_mac(frame, message, private_key, peer, cache), mac)


def seal(message: Message, *, signer: ec.EllipticCurvePrivateKey | None = None,
         mac_private_key: ec.EllipticCurvePrivateKey | None = None,
         mac_peer: ec.EllipticCurvePublicKey | None = None,
         payload_long_form_width: int = 0, cache: EcdhCache = ECDH_CACHE,
         deterministic: bool = False) -> bytes:
    """Encode ``message``, sign it with ``signer`` and MAC it with the key pair, if given.

    Without ``signer`` the message's own ``signature`` is kept (``None`` encodes ``0x00``);
    without MAC keys a MACed message keeps its ``mac``.
    """
    if signer is not None and message.mac_header is None and message.signature is None \
            and not message.precommand and (mac_private_key is None or mac_peer is None):
        # signed only (every device response and alert), with nothing to replace: without a MAC
        # header no length covers the signature field, so the frame up to the payload's end is
        # what the placeholder gives; its ``00`` becomes ``40`` and the signature is appended,
        # in the builder's own buffer, copied once (the same bytes as the general path below)
        out, layout = encode_buffer(message, payload_long_form_width)
        end = layout.payload_end
        out[end] = 0x40
        out += sign_raw(signer, bytes(out[layout.grouping_start + 1:end]), deterministic)
        return bytes(out)
    if signer is not None:
        message = message.evolve(signature=_SIGNATURE_PLACEHOLDER, precommand=False)
    frame, layout = encode_with_layout(message, payload_long_form_width=payload_long_form_width)
    out = bytearray(frame)
    if signer is not None:
        signature = sign_raw(signer, signed_bytes(frame, layout), deterministic)
        out[layout.payload_end + 1 : layout.payload_end + 65] = signature
    if mac_private_key is not None and mac_peer is not None:
        if message.mac_header is None:
            raise ValueError("a MAC needs a MAC header")
        # the MAC inputs (ids, counter, CRA flag, security header) do not depend on the signature
        mac = compute_mac(bytes(out), message.evolve(layout=layout), mac_private_key, mac_peer, cache)
        out[-12:] = mac
    return bytes(out)


def seal_in_mac_header(frame: bytes, message: Message, *, mac_private_key: ec.EllipticCurvePrivateKey,
                       mac_peer: ec.EllipticCurvePublicKey, header: MacHeader = _GBCS_MAC_HEADER,
                       cache: EcdhCache = ECDH_CACHE) -> bytes:
    """``frame`` (signed, no MAC header; ``message`` its decoded form, with its layout) inside
    ``header`` and MACed: the bytes ``seal`` gives ``message`` with that header and these keys,
    without encoding the message again (the DSP wraps a checked pre-command this way)."""
    if message.layout is None:
        raise ValueError("the frame's layout is needed (a decoded or sealed message)")
    wrapped, layout = wrap_in_mac_header(frame, message.layout, header)
    key = message_key(message, mac_private_key, mac_peer, cache)
    iv = bytes(message.originator_id) + header.invocation_counter.to_bytes(4, "big")
    aad = bytes((header.security_control,)) + bytes(header.fields[:5]) \
        + wrapped[layout.grouping_start : layout.signature_end]
    return wrapped[:-12] + gmac(key, iv, aad)


def seal_and_decode(message: Message, **kwargs) -> tuple[bytes, Message]:
    """``seal`` and the decoded result (with its layout), for callers that keep both."""
    frame = seal(message, **kwargs)
    return frame, decode(frame)
