"""Device private keys held compactly: DER bytes at rest, a ``cryptography`` key object on use.

An OpenSSL EC key object costs about 2.2 KiB; an emulated device has two, and a fleet bench
keeps 10^5 devices idle for most of its run. ``DeviceIdentity`` therefore stores each private key
as its PKCS#8 DER (about 140 bytes, shared with nobody) and hands out the key object from a small
process-wide cache, loading it again (about 17 us, far less than deriving it) when it fell out.
The cache hands out one object per key while it holds it, so the ECDH secret cache (keyed by key
objects) keeps hitting for a device in use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

#: key objects of the devices in use, by DER (a device in use touches its keys on every command)
CAPACITY = 128


class _Materialised:
    """Bounded LRU of loaded private key objects by their DER."""

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._entries: OrderedDict[bytes, ec.EllipticCurvePrivateKey] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, der: bytes) -> ec.EllipticCurvePrivateKey:
        key = self._entries.get(der)
        if key is not None:
            try:
                self._entries.move_to_end(der)
            except KeyError:  # evicted meanwhile by another thread: the object is still the key
                pass
            return key
        loaded = serialization.load_der_private_key(der, password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):  # never: DER comes from ``compact``
            raise TypeError("not an EC private key")
        return self.put(der, loaded)

    def put(self, der: bytes, key: ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            self.loads += 1
            key = self._entries.setdefault(der, key)
            self._entries.move_to_end(der)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return key


MATERIALISED = _Materialised()


def compact(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key's PKCS#8 DER; the object itself is kept in the cache (it is in use right now)."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    MATERIALISED.put(der, key)
    return der


class PrivateKeyField:
    """A dataclass field (descriptor) holding an EC private key as DER: set with a key object,
    read back as a key object (any other value, None included, is kept as it is). Frozen dataclasses set fields through
    ``object.__setattr__``, which honours the descriptor, so the dataclass API is unchanged."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        self._slot = f"_{name}_der"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError(self._name)  # no class-level default: the field stays required
        held = obj.__dict__[self._slot]
        return MATERIALISED.get(held) if isinstance(held, bytes) else held

    def __set__(self, obj: Any, value: Any) -> None:
        # anything but an EC private key (None, a test double) is kept as it is
        obj.__dict__[self._slot] = compact(value) if isinstance(value, ec.EllipticCurvePrivateKey) else value
