"""``System.Security.Cryptography`` for expressions: hashes, HMACs, AES (``Encrypt``/``Decrypt`` on
``byte[]``) and ``BitConverter``.
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

import hashlib
import hmac
import os

from emulator.gateway.expr.netlib.convert import require_bytes
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType
from emulator.gateway.expr.values import EvalError, NetObject, require_str


class HashAlgo(NetObject):
    NET_TYPE = "HashAlgorithm"
    NET_PROPS = frozenset({"Key", "Hash", "HashSize"})
    NET_METHODS = frozenset({"ComputeHash", "Dispose"})

    def __init__(self, name: str, key: bytes | None = None) -> None:
        self.name = name
        self.key = key
        self.last: bytes | None = None
        self.NET_TYPE = ("HMAC" if key is not None else "") + name.upper()  # type: ignore[misc]

    @property
    def Key(self) -> bytes:
        if self.key is None:
            raise EvalError(
                "MissingMemberException", f"'{self.NET_TYPE}' does not contain a definition for 'Key'."
            )
        return self.key

    @property
    def Hash(self) -> bytes:
        if self.last is None:
            raise EvalError(
                "CryptographicUnexpectedOperationException",
                "Hash must be finalized before the hash value is retrieved.",
            )
        return self.last

    @property
    def HashSize(self) -> int:
        return hashlib.new(self.name).digest_size * 8

    def net_set(self, name: str, value: object) -> None:
        if name == "Key" and self.key is not None:  # new HMACSHA256 { Key = ... }
            self.key = require_bytes(value, "value")
            return
        super().net_set(name, value)

    def m_ComputeHash(self, data: object) -> bytes:
        raw = require_bytes(data)
        if self.key is not None:
            self.last = hmac.new(self.key, raw, self.name).digest()
        else:
            self.last = hashlib.new(self.name, raw).digest()
        return self.last

    def m_Dispose(self) -> None:
        return None


def symmetric(data: object, alg: object, key: object, iv: object, encrypt: bool) -> bytes:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    name = require_str(alg, "alg")
    if name not in (
        "Aes",
        "Rijndael",
        "System.Security.Cryptography.Aes",
        "System.Security.Cryptography.RijndaelManaged",
    ):
        raise EvalError(
            "CryptographicException",
            f"The symmetric algorithm '{name}' is not supported by the local gateway (use Aes).",
        )
    k, v = require_bytes(key, "key"), require_bytes(iv, "iv")
    if len(k) not in (16, 24, 32) or len(v) != 16:
        raise EvalError(
            "CryptographicException",
            "Specified key or initialization vector is not a valid size for this algorithm.",
        )
    cipher = Cipher(algorithms.AES(k), modes.CBC(v))
    raw = require_bytes(data, "input")
    if encrypt:
        padder = padding.PKCS7(128).padder()
        enc = cipher.encryptor()
        return enc.update(padder.update(raw) + padder.finalize()) + enc.finalize()
    try:
        dec = cipher.decryptor()
        plain = dec.update(raw) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(plain) + unpadder.finalize()
    except ValueError as exc:
        raise EvalError("CryptographicException", "Padding is invalid and cannot be removed.") from exc


def _hash_type(name: str) -> StaticType:
    return StaticType(
        name.upper(),
        {},
        {
            "Create": lambda: HashAlgo(name),
            "HashData": lambda data: hashlib.new(name, require_bytes(data)).digest(),
        },
        ctor=lambda: HashAlgo(name),
    )


def _hmac_type(name: str) -> StaticType:
    return StaticType(
        "HMAC" + name.upper(),
        {},
        {
            "HashData": lambda key, data: hmac.new(
                require_bytes(key, "key"), require_bytes(data), name
            ).digest()
        },
        ctor=lambda key=None: HashAlgo(
            name, require_bytes(key, "key") if key is not None else os.urandom(64)
        ),
    )


def _bitconverter_tostring(data: object) -> str:
    return "-".join(f"{b:02X}" for b in require_bytes(data, "value"))


STATIC: StaticTable = (
    (("SHA256", "SHA256Managed"), _hash_type("sha256")),
    (("SHA1", "SHA1Managed"), _hash_type("sha1")),
    (("SHA384", "SHA384Managed"), _hash_type("sha384")),
    (("SHA512", "SHA512Managed"), _hash_type("sha512")),
    (("MD5",), _hash_type("md5")),
    (("HMACSHA256",), _hmac_type("sha256")),
    (("HMACSHA1",), _hmac_type("sha1")),
    (("HMACSHA384",), _hmac_type("sha384")),
    (("HMACSHA512",), _hmac_type("sha512")),
    (("HMACMD5",), _hmac_type("md5")),
    (("BitConverter",), StaticType("BitConverter", {}, {"ToString": _bitconverter_tostring})),
)
