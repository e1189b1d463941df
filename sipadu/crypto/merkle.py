"""Merkle trees as RFC 9162 §2.1 defines them (Certificate Transparency version 2.0),
with SHA-256: the tree hash of a list of leaves, a leaf's inclusion proof, and the
proof's verification. The receipts of docs/receipt.md put each finished day's report
commitments in one such tree.

RFC 9162 §2.1.1 (the same hashing as RFC 6962 §2.1, whose published test vectors the
tests check):

- the hash of an empty list is ``SHA-256()``;
- a leaf ``d`` hashes to ``SHA-256(0x00 ‖ d)``;
- a list of ``n > 1`` leaves splits at ``k``, the largest power of two below ``n``, and
  hashes to ``SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))``.

The different prefixes of leaves and nodes keep a node from passing for a leaf (a
second-preimage of a shorter tree). Everything here is bytes in, bytes out; a proof that
does not verify, or is malformed, raises :class:`~sipadu.crypto.errors.CryptoError`.
"""

import hashlib
from collections.abc import Sequence

from sipadu.crypto.errors import CryptoError

HASH_LEN = 32  # SHA-256
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 ‖ data)``: the hash of one leaf (RFC 9162 §2.1.1). 32 bytes."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``: an interior node (RFC 9162 §2.1.1). 32 bytes."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _tree_hash(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaves already hashed (``len(hashes) >= 1``)."""
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_tree_hash(hashes[:k]), _tree_hash(hashes[k:]))


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash ``MTH(D[n])`` of ``leaves`` in the order given (RFC 9162
    §2.1.1): 32 bytes, :data:`EMPTY_ROOT` for none. Linear in the number of leaves;
    recursion depth is ``log2(n)``."""
    if not leaves:
        return EMPTY_ROOT
    return _tree_hash([leaf_hash(leaf) for leaf in leaves])


def _path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """``PATH(m, D[n])`` of RFC 9162 §2.1.3.1, over leaves already hashed."""
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return [*_path(index, hashes[:k]), _tree_hash(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _tree_hash(hashes[:k])]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion proof (audit path) of leaf ``index`` (0-based) in the tree of
    ``leaves``: ``PATH(m, D[n])`` of RFC 9162 §2.1.3.1, the sibling hashes from the leaf
    up, each 32 bytes (none for a tree of one leaf). Raises :class:`CryptoError` when
    ``index`` is not a leaf of the tree."""
    if not 0 <= index < len(leaves):
        raise CryptoError("no such leaf in the tree")
    return _path(index, [leaf_hash(leaf) for leaf in leaves])


def root_from_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` makes of ``leaf`` (the leaf's data, not its hash) at
    ``index`` in a tree of ``size`` leaves: the algorithm of RFC 9162 §2.1.3.2, steps 1
    to 4 and the length check of step 5. Raises :class:`CryptoError` for an index
    outside the tree, a proof of the wrong length, or a proof element that is not 32
    bytes; the caller compares the result with the root it trusts
    (:func:`verify_inclusion` does)."""
    if not 0 <= index < size:
        raise CryptoError("the leaf index is outside the tree")
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if len(p) != HASH_LEN:
            raise CryptoError("a proof element is not a SHA-256 hash")
        if sn == 0:
            raise CryptoError("the proof is too long for the tree")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CryptoError("the proof is too short for the tree")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check that ``leaf`` is leaf ``index`` of the tree of ``size`` leaves whose hash
    is ``expected_root`` (RFC 9162 §2.1.3.2). Returns nothing; raises
    :class:`CryptoError` if it is not (or the proof is malformed)."""
    if root_from_proof(leaf, index, size, proof) != expected_root:
        raise CryptoError("the inclusion proof does not lead to the root")
