"""GBCS MAC: static-static ECDH, the GBCS single-step KDF, AES-128-GCM with a 12-byte tag.

Verified against RTDS 4.5.0 (``docs/reference/gbcs-cs02b.md`` section 3):

* ``Z`` = ECDH(P-256) x-coordinate between the two parties' key agreement keys;
* ``K = SHA-256(00000001 || Z || OtherInfo)[:16]`` with ``OtherInfo = 60857406080300 ||
  originator id || 09 || CRA flag || originator counter || recipient id``;
* GMAC: ``AESGCM(K).encrypt(IV = originator id || invocation counter, b"", AAD)[:12]``.

Both keys are static, so ``Z`` depends only on the key pair: it is cached. The cache pins the
key objects of each entry, so an ``id`` cannot be reused while its entry exists.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALGORITHM_ID = bytes.fromhex("60857406080300")
MAC_LENGTH = 12


class EcdhCache:
    """Bounded LRU of ECDH shared secrets per (private key, peer public key) object pair."""

    def __init__(self, capacity: int = 65536):
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, int], tuple[object, object, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def shared_secret(self, private_key: ec.EllipticCurvePrivateKey,
                      peer: ec.EllipticCurvePublicKey) -> bytes:
        key = (id(private_key), id(peer))
        entry = self._entries.get(key)  # a hit, the common case: one atomic lookup, no lock
        if entry is not None and entry[0] is private_key and entry[1] is peer:
            try:
                self._entries.move_to_end(key)
            except KeyError:  # evicted meanwhile by another thread: the secret is still right
                pass
            self.hits += 1
            return entry[2]
        secret = private_key.exchange(ec.ECDH(), peer)
        with self._lock:
            self.misses += 1
            self._entries[key] = (private_key, peer, secret)
            if len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return secret

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: process-wide cache used by default
ECDH_CACHE = EcdhCache()


def derive_key(shared_secret: bytes, originator_id: bytes, cra_flag: int, counter: int,
               recipient_id: bytes) -> bytes:
    """GBCS KDF: the 16-byte AES key for one message (one per MACed frame: its input is joined
    once, not concatenated piece by piece)."""
    return _sha256(b"".join((
        _COUNTER_ONE, shared_secret, ALGORITHM_ID, bytes(originator_id), bytes((0x09, cra_flag)),
        counter.to_bytes(8, "big"), bytes(recipient_id),
    ))).digest()[:16]


_COUNTER_ONE = b"\x00\x00\x00\x01"  # the single-step KDF's only round
_sha256 = hashlib.sha256


def gmac(key: bytes, iv: bytes, aad: bytes) -> bytes:
    """AES-128-GCM over empty plaintext: the 12-byte truncated tag."""
    return AESGCM(key).encrypt(iv, b"", aad)[:MAC_LENGTH]


def equal(a: bytes | None, b: bytes | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)
