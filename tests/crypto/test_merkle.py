"""RFC 9162 §2.1 Merkle trees (sipadu/crypto/merkle.py), the hashing a receipt's proof of
inclusion rests on (docs/receipt.md).

Checked three ways: against the test vectors Certificate Transparency publishes for
RFC 6962, whose §2.1 hashing RFC 9162 keeps (roots of trees of 0 to 8 leaves and five
inclusion proofs, from the reference implementation's ``merkle_tree_test.cc``); against
a second implementation written here from another reading of the definition (bottom-up,
level by level, the odd node carried up unhashed), for every leaf of every tree of up to
70 leaves; and against vectors of receipt-shaped leaves (32-byte commitments) worked out
by hand with hashlib below. Every altered proof, index or size must fail."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipadu.crypto import CryptoError, merkle

h = bytes.fromhex

# Certificate Transparency's RFC 6962 test data (leaves, then roots of the first n).
CT_LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based leaf index, tree size, audit path)
CT_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_roots_are_certificate_transparencys(size):
    assert merkle.root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_PROOFS)
def test_inclusion_proofs_are_certificate_transparencys(index, size, path):
    leaves = CT_LEAVES[:size]
    proof = merkle.inclusion_proof(leaves, index)
    assert [p.hex() for p in proof] == path
    merkle.verify_inclusion(leaves[index], index, size, proof, h(CT_ROOTS[size]))


# --- a second implementation, bottom-up ------------------------------------------------


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Each level of the tree from the leaves' hashes up: pairs are hashed left to
    right, and a last node without a partner goes up as it is. For every n this builds
    the same left-balanced tree as the recursive split at the largest power of two."""
    level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    levels = [level]
    while len(level) > 1:
        up = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            up.append(level[-1])
        levels.append(up)
        level = up
    return levels


def _bottom_up_proof(leaves: list[bytes], index: int) -> list[bytes]:
    proof = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


@pytest.mark.parametrize("size", range(1, 71))
def test_every_proof_of_every_tree_matches_a_bottom_up_implementation(size):
    leaves = _leaves(size)
    top = _levels(leaves)[-1][0]
    assert merkle.root(leaves) == top
    for index in range(size):
        proof = merkle.inclusion_proof(leaves, index)
        assert proof == _bottom_up_proof(leaves, index)
        merkle.verify_inclusion(leaves[index], index, size, proof, top)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 33])
def test_any_change_to_leaf_index_size_proof_or_root_fails(size):
    leaves = _leaves(size)
    top = merkle.root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(leaves, index)
        with pytest.raises(CryptoError):
            merkle.verify_inclusion(leaves[index] + b"x", index, size, proof, top)
        with pytest.raises(CryptoError):
            merkle.verify_inclusion(leaves[index], index, size, proof, bytes(32))
        for other in range(size + 2):
            if other != index:
                with pytest.raises(CryptoError):
                    merkle.verify_inclusion(leaves[index], other, size, proof, top)
        for position in range(len(proof)):
            altered = list(proof)
            altered[position] = bytes([altered[position][0] ^ 1]) + altered[position][1:]
            with pytest.raises(CryptoError):
                merkle.verify_inclusion(leaves[index], index, size, altered, top)
        if proof:
            with pytest.raises(CryptoError):
                merkle.verify_inclusion(leaves[index], index, size, proof[:-1], top)
        if len(proof) > 1:
            with pytest.raises(CryptoError):
                merkle.verify_inclusion(leaves[index], index, size, proof[::-1], top)
        with pytest.raises(CryptoError):
            merkle.verify_inclusion(leaves[index], index, size, [*proof, top], top)


def test_the_proof_alone_does_not_bind_the_tree_size():
    """A left leaf's path in a tree of 8 is also a path in a tree of 5 to 7 leaves, to
    the same root: RFC 9162 verifies a proof against a size and root that a signed tree
    head binds together. So a receipt takes its size from the signed ``receipt.day``
    entry (whose detail holds it) and the offline check compares the two."""
    leaves = _leaves(8)
    proof = merkle.inclusion_proof(leaves, 0)
    for size in (5, 6, 7, 8):
        merkle.verify_inclusion(leaves[0], 0, size, proof, merkle.root(leaves))


def test_malformed_proofs_and_indexes_are_refused():
    leaves = _leaves(4)
    proof = merkle.inclusion_proof(leaves, 1)
    with pytest.raises(CryptoError):
        merkle.root_from_proof(leaves[1], 1, 4, [proof[0][:31], proof[1]])
    with pytest.raises(CryptoError):
        merkle.root_from_proof(leaves[1], -1, 4, proof)
    with pytest.raises(CryptoError):
        merkle.root_from_proof(leaves[1], 4, 4, proof)
    with pytest.raises(CryptoError):
        merkle.inclusion_proof(leaves, 4)
    with pytest.raises(CryptoError):
        merkle.inclusion_proof([], 0)


def test_a_node_is_not_a_leaf():
    """The prefixes of RFC 9162 §2.1.1: the hash of two leaves, presented as one leaf of
    a smaller tree, does not lead to the root."""
    leaves = _leaves(4)
    top = merkle.root(leaves)
    left = merkle.node_hash(merkle.leaf_hash(leaves[0]), merkle.leaf_hash(leaves[1]))
    right = merkle.node_hash(merkle.leaf_hash(leaves[2]), merkle.leaf_hash(leaves[3]))
    assert merkle.node_hash(left, right) == top
    with pytest.raises(CryptoError):
        merkle.verify_inclusion(left, 0, 2, [right], top)


# --- receipt-shaped vectors, worked out by hand ------------------------------------------

# Three 32-byte commitments (SHA-256 of "sipadu receipt vector 0|1|2"), sorted by their
# bytes as a day's tree sorts them (sipadu/services/receipts.py).
RECEIPT_LEAVES = [
    h("11c5ef69794188471d6f0c085630e9f94a32ca36096875870d21ebeaaf76e422"),
    h("33d6ea3c7e01d3aebd9637c0f781ec35666b43cc8927ff98584f34d4cb7c6939"),
    h("7d2db2ad78c83cec2ab1ebb0be53a32ee016bbfa0dc7b4abf8416b1187153d4b"),
]
RECEIPT_ROOT = "25c334da2525ea6d691d00ecd9276758ffd9b0055b56ba7e679640a96524770a"
RECEIPT_PROOFS = {
    0: [
        "a77a9191b74c3600bedc2c9857ea44e1d0583d6e677fcfc0d3e334cbe970ee2c",
        "5a03a183ba059ac0d45e1996de29784aad06bfe8cc164f5c3bf02c39f4ad4ffc",
    ],
    2: ["8cd9d42a24eb765f3bbdb922f257f88e8c523e6f8836d9b0d97eb979318ca5f6"],
}


def test_receipt_shaped_vectors():
    made = [hashlib.sha256(f"sipadu receipt vector {i}".encode()).digest() for i in range(3)]
    assert sorted(made) == RECEIPT_LEAVES

    # by hand: H(1 ‖ H(1 ‖ H(0 ‖ c0) ‖ H(0 ‖ c1)) ‖ H(0 ‖ c2))
    def sha(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    c0, c1, c2 = (sha(b"\x00" + c) for c in RECEIPT_LEAVES)
    assert sha(b"\x01" + sha(b"\x01" + c0 + c1) + c2).hex() == RECEIPT_ROOT
    assert merkle.root(RECEIPT_LEAVES).hex() == RECEIPT_ROOT
    for index, path in RECEIPT_PROOFS.items():
        proof = merkle.inclusion_proof(RECEIPT_LEAVES, index)
        assert [p.hex() for p in proof] == path
        merkle.verify_inclusion(RECEIPT_LEAVES[index], index, 3, proof, h(RECEIPT_ROOT))
    assert merkle.EMPTY_ROOT.hex() == CT_ROOTS[0]


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
def test_any_leaf_of_any_tree_is_proven_and_no_other_data_is(leaves, data):
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle.inclusion_proof(leaves, index)
    top = merkle.root(leaves)
    merkle.verify_inclusion(leaves[index], index, len(leaves), proof, top)
    other = data.draw(st.binary(max_size=40).filter(lambda b: b != leaves[index]))
    with pytest.raises(CryptoError):
        merkle.verify_inclusion(other, index, len(leaves), proof, top)
