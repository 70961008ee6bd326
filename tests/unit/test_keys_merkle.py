"""RFC 9162 Merkle tree hashing, proofs and their verification.

The expected values come from a reference written here straight from the RFC's
recursive definitions (MTH, PATH, PROOF/SUBPROOF) and from the published RFC 6962
test vectors, never from the code under test.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from functools import cache

import pytest

from keys import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 1000
ALL_PAIRS_UP_TO = 64
ENTRIES = [f"audit entry {index}".encode() for index in range(MAX_SIZE)]
LEAVES = [hashlib.sha256(b"\x00" + entry).digest() for entry in ENTRIES]
get_leaf = LEAVES.__getitem__
OTHER_HASH = hashlib.sha256(b"not in the tree").digest()

# --- Reference implementation, from the definitions in RFC 9162 2.1 -----------


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) over ENTRIES, by the recursive definition."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + ENTRIES[start]).digest()
    k = split_point(n)
    return hashlib.sha256(b"\x01" + mth(start, start + k) + mth(start + k, end)).digest()


# A proof node is the leaf range its hash covers; `sides` tells on which side of
# the running hash a verifier must put it.


@cache
def path_ranges(m: int, start: int, end: int) -> tuple[tuple[str, int, int], ...]:
    """PATH(m, D[start:end]) as (side, start, end) of each node, leaf first."""
    n = end - start
    if n == 1:
        return ()
    k = split_point(n)
    if m < k:
        return (*path_ranges(m, start, start + k), ("right", start + k, end))
    return (*path_ranges(m - k, start + k, end), ("left", start, start + k))


def reference_path(index: int, size: int) -> list[bytes]:
    return [mth(start, end) for _, start, end in path_ranges(index, 0, size)]


def path_sides(index: int, size: int) -> tuple[str, ...]:
    return tuple(side for side, _, _ in path_ranges(index, 0, size))


@cache
def subproof_ranges(m: int, start: int, end: int, whole: bool) -> tuple[tuple[int, int], ...]:
    """SUBPROOF(m, D[start:end], whole) as the leaf range of each node."""
    n = end - start
    if m == n:
        return () if whole else ((start, end),)
    k = split_point(n)
    if m <= k:
        return (*subproof_ranges(m, start, start + k, whole), (start + k, end))
    return (*subproof_ranges(m - k, start + k, end, False), (start, start + k))


def reference_consistency(old: int, new: int) -> list[bytes]:
    return [mth(start, end) for start, end in subproof_ranges(old, 0, new, True)]


@cache
def consistency_shape(old: int, new: int) -> tuple[object, ...]:
    """How both roots are built from the nodes of PROOF(old, D[new]).

    Each root is written as nested pairs of node positions; "old" stands for the
    old root itself, which the proof omits when it is a single node.
    """
    ranges = subproof_ranges(old, 0, new, True)
    position = {node: place for place, node in enumerate(ranges)}

    def expression(start: int, end: int) -> object:
        if (start, end) in position:
            return position[(start, end)]
        if (start, end) == (0, old):
            return "old"
        k = split_point(end - start)
        return (expression(start, start + k), expression(start + k, end))

    return len(ranges), expression(0, old), expression(0, new)


# --- Sample of (index, size) and (old, new) pairs ------------------------------


def inclusion_cases() -> Iterator[tuple[int, int]]:
    """Every index up to ALL_PAIRS_UP_TO leaves; first, last, middle and 3 random above."""
    rng = random.Random(9162)
    for size in range(1, MAX_SIZE + 1):
        if size <= ALL_PAIRS_UP_TO:
            yield from ((index, size) for index in range(size))
        else:
            picks = {0, size - 1, size // 2, *rng.sample(range(size), 3)}
            yield from ((index, size) for index in sorted(picks))


def consistency_cases() -> Iterator[tuple[int, int]]:
    """Every 0 < old < new up to ALL_PAIRS_UP_TO leaves; 4 old sizes per new size above."""
    rng = random.Random(6962)
    for new in range(2, MAX_SIZE + 1):
        if new <= ALL_PAIRS_UP_TO:
            yield from ((old, new) for old in range(1, new))
        else:
            picks = {1, new - 1, 1 << ((new - 1).bit_length() - 1), rng.randrange(2, new - 1)}
            yield from ((old, new) for old in sorted(picks))


def flipped(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x01]) + value[1:]


# --- Hashing -------------------------------------------------------------------


def test_empty_tree_and_empty_leaf_match_the_rfc_6962_vectors() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


# The RFC 6962 test tree used by Certificate Transparency and
# github.com/transparency-dev/merkle (testonly/constants.go, proof/verify_test.go).
CT_ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
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
CT_LEAVES = [leaf_hash(entry) for entry in CT_ENTRIES]
CT_INCLUSION = [  # (index, size, proof)
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CT_CONSISTENCY = [  # (old, new, proof)
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]


def test_roots_of_the_rfc_6962_test_tree_match_the_published_values() -> None:
    assert node_hash(CT_LEAVES[0], CT_LEAVES[1]).hex() == CT_ROOTS[2]
    frontier = Frontier()
    for size in range(len(CT_LEAVES) + 1):
        assert root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
        assert frontier.root().hex() == CT_ROOTS[size]
        if size < len(CT_LEAVES):
            frontier.append(CT_LEAVES[size])


def test_frontier_of_the_rfc_6962_test_tree_holds_the_published_subtree_hashes() -> None:
    # compact.Tree hashes for size 7 from transparency-dev/merkle: the roots of
    # leaves [0, 4), [4, 6) and [6, 7).
    frontier = Frontier()
    for leaf in CT_LEAVES[:7]:
        frontier.append(leaf)
    assert frontier.to_bytes().hex() == (
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"
    )


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_inclusion_proofs_of_the_rfc_6962_test_tree_match_the_published_ones(
    index: int, size: int, expected: list[str]
) -> None:
    proof = inclusion_proof(index, size, CT_LEAVES.__getitem__)
    assert [node.hex()[:8] for node in proof] == expected
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_consistency_proofs_of_the_rfc_6962_test_tree_match_the_published_ones(
    old: int, new: int, expected: list[str]
) -> None:
    proof = consistency_proof(old, new, CT_LEAVES.__getitem__)
    assert [node.hex()[:8] for node in proof] == expected
    old_root, new_root = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, proof)


def test_leaf_and_root_match_the_recursive_definition_for_every_size_up_to_300() -> None:
    assert all(leaf_hash(entry) == leaf for entry, leaf in zip(ENTRIES, LEAVES, strict=True))
    for size in range(301):
        assert root(LEAVES[:size]) == mth(0, size), size


def test_frontier_root_matches_the_recursive_definition_after_every_append() -> None:
    frontier = Frontier()
    for size in range(301):
        assert frontier.size == size
        assert frontier.root() == mth(0, size), size
        stored = frontier.to_bytes()
        assert len(stored) == 32 * size.bit_count()
        restored = Frontier.from_bytes(size, stored)
        assert restored.size == size
        assert restored.root() == frontier.root()
        assert restored.to_bytes() == stored
        frontier.append(LEAVES[size])
        # The restored frontier keeps growing the same tree.
        restored.append(LEAVES[size])
        assert restored.root() == frontier.root() == mth(0, size + 1)


def test_subtree_root_is_the_root_of_that_range() -> None:
    for start, end in [(0, 0), (5, 5), (0, 1), (3, 4), (0, 13), (8, 16), (5, 300)]:
        assert subtree_root(start, end, get_leaf) == mth(start, end)


@pytest.mark.parametrize(
    ("size", "data"),
    [
        (-1, b""),
        (0, b"\x00" * 32),
        (1, b""),
        (1, b"\x00" * 31),
        (3, b"\x00" * 32),
        (7, b"\x00" * 97),
    ],
)
def test_frontier_from_bytes_rejects_a_length_that_does_not_fit_the_size(
    size: int, data: bytes
) -> None:
    with pytest.raises(ValueError):
        Frontier.from_bytes(size, data)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_leaves_that_are_not_32_byte_hashes_are_refused(bad: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier().append(bad)
    with pytest.raises(ValueError, match="32 bytes"):
        root([LEAVES[0], bad])


# --- Proof generation ---------------------------------------------------------


def test_inclusion_proofs_are_rfc_9162_paths_and_verify() -> None:
    for index, size in inclusion_cases():
        proof = inclusion_proof(index, size, get_leaf)
        assert proof == reference_path(index, size), (index, size)
        assert verify_inclusion(LEAVES[index], index, size, proof, mth(0, size)), (index, size)


def test_consistency_proofs_are_rfc_9162_proofs_and_verify() -> None:
    for old, new in consistency_cases():
        proof = consistency_proof(old, new, get_leaf)
        assert proof == reference_consistency(old, new), (old, new)
        assert verify_consistency(old, new, mth(0, old), mth(0, new), proof), (old, new)


def test_trivial_consistency_proofs_are_empty_and_verify() -> None:
    for size in [0, 1, 2, 7, 64]:
        assert consistency_proof(size, size, get_leaf) == []
        assert verify_consistency(size, size, mth(0, size), mth(0, size), [])
        assert consistency_proof(0, size, get_leaf) == []
        assert verify_consistency(0, size, EMPTY_ROOT, mth(0, size), [])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (5, 3), (-1, 4)])
def test_inclusion_proof_of_a_leaf_outside_the_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(index, size, get_leaf)


@pytest.mark.parametrize(("old", "new"), [(2, 1), (1, 0), (-1, 3)])
def test_consistency_proof_to_a_smaller_tree_is_refused(old: int, new: int) -> None:
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(old, new, get_leaf)


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 2)])
def test_subtree_root_of_an_invalid_range_is_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="invalid leaf range"):
        subtree_root(start, end, get_leaf)


# --- Rejection of altered inclusion proofs --------------------------------------
#
# RFC 9162 2.1.3.2 walks only the bits of the index and of size - 1 to decide on
# which side each proof node goes. So a proof for (index, size) also verifies,
# against the same root, as (index, other) whenever the PATH for (index, other)
# puts its nodes on the same sides: exactly when index < other and
# index ^ (size - 1) and index ^ (other - 1) have the same bit length. Example:
# leaf 0 of the tree of size 3 also "verifies" as leaf 0 of size 4 against the
# size-3 root. This is why a size must come from the signed checkpoint that also
# gives the root. The tests expect acceptance in exactly those cases.


def inclusion_alternatives(index: int, size: int) -> set[int]:
    if size <= ALL_PAIRS_UP_TO:
        return set(range(2 * size + 2)) - {size}
    return {0, index, index + 1, size - 1, size + 1, size * 2, size // 2, size ^ 1, size ^ 2} - {
        size
    }


def test_inclusion_proof_with_another_size_verifies_only_when_its_walk_is_the_same() -> None:
    same_walk_seen = 0
    for index, size in inclusion_cases():
        proof = reference_path(index, size)
        for other in inclusion_alternatives(index, size):
            same_walk = index < other and path_sides(index, other) == path_sides(index, size)
            # The rule in the comment above, stated on the bits.
            assert same_walk == (
                index < other
                and (index ^ (size - 1)).bit_length() == (index ^ (other - 1)).bit_length()
            )
            same_walk_seen += same_walk
            verified = verify_inclusion(LEAVES[index], index, other, proof, mth(0, size))
            assert verified == same_walk, (index, size, other)
    assert same_walk_seen > 0
    assert verify_inclusion(LEAVES[0], 0, 4, reference_path(0, 3), mth(0, 3))


def test_altered_inclusion_proofs_do_not_verify() -> None:
    for index, size in inclusion_cases():
        proof = reference_path(index, size)
        tree_root = mth(0, size)
        leaf = LEAVES[index]
        case = (index, size)
        for other_index in {index - 1, index + 1, index ^ 1, index ^ 2, size} - {index}:
            assert not verify_inclusion(leaf, other_index, size, proof, tree_root), case
        for wrong_leaf in [LEAVES[(index + 1) % MAX_SIZE], OTHER_HASH, flipped(leaf)]:
            assert not verify_inclusion(wrong_leaf, index, size, proof, tree_root), case
        for wrong_root in [mth(0, size - 1), EMPTY_ROOT, OTHER_HASH, flipped(tree_root)]:
            assert not verify_inclusion(leaf, index, size, proof, wrong_root), case
        for position in range(len(proof)):
            damaged = list(proof)
            damaged[position] = flipped(proof[position])
            assert not verify_inclusion(leaf, index, size, damaged, tree_root), (*case, position)
        altered: list[list[bytes]] = [
            [*proof, OTHER_HASH],
            [*proof, tree_root],
            [OTHER_HASH, *proof],
        ]
        if proof:
            altered += [proof[:-1], proof[1:], [proof[0], OTHER_HASH, *proof[1:]]]
        for wrong_proof in altered:
            assert not verify_inclusion(leaf, index, size, wrong_proof, tree_root), case


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof", "tree_root"),
    [
        (b"", 0, 1, [], b""),
        (LEAVES[0][:31], 0, 1, [], LEAVES[0][:31]),
        (LEAVES[0] + b"\x00", 0, 1, [], LEAVES[0] + b"\x00"),
        (LEAVES[0], 0, 1, [], LEAVES[0][:31]),
        (LEAVES[0], 0, 2, [LEAVES[1][:31]], mth(0, 2)),
        (LEAVES[0], 0, 2, [LEAVES[1] + b"\x00"], mth(0, 2)),
        (LEAVES[0], 0, 2, ["not bytes"], mth(0, 2)),
        (LEAVES[0], -1, 2, [LEAVES[1]], mth(0, 2)),
        (LEAVES[0], 0, 0, [], EMPTY_ROOT),
        (LEAVES[0], 0, -1, [], LEAVES[0]),
        (LEAVES[2], 2, 2, [LEAVES[1]], mth(0, 2)),
    ],
)
def test_malformed_inclusion_input_returns_false(
    leaf: bytes, index: int, size: int, proof: list[bytes], tree_root: bytes
) -> None:
    assert verify_inclusion(leaf, index, size, proof, tree_root) is False


def test_single_leaf_tree_needs_an_empty_proof_and_the_leaf_as_root() -> None:
    assert verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])
    assert not verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[1])
    assert not verify_inclusion(LEAVES[0], 0, 1, [LEAVES[1]], LEAVES[0])


# --- Rejection of altered consistency proofs ------------------------------------
#
# The same holds for consistency proofs (RFC 9162 2.1.4.2): a proof for
# (old, new) also verifies, with the same two roots, as (old2, new2) exactly when
# 0 < old2 < new2 and PROOF(old2, D[new2]) combines its nodes into both roots the
# same way (`consistency_shape`). On the bits: with t = trailing zeros of old,
# f = (old - 1) >> t, s = (new - 1) >> t and i = bit length of f ^ s, the verifier
# depends only on (old is a power of two, i, the low i bits of f, the number of
# set bits in f >> i). Example: the proof from 2 to 3 also verifies as 2 to 4.


def consistency_walk(old: int, new: int) -> tuple[bool, int, int, int]:
    shift = (old & -old).bit_length() - 1
    f, s = (old - 1) >> shift, (new - 1) >> shift
    inner = (f ^ s).bit_length()
    return old == 1 << shift, inner, f & ((1 << inner) - 1), (f >> inner).bit_count()


def consistency_alternatives(old: int, new: int) -> set[tuple[int, int]]:
    if new <= ALL_PAIRS_UP_TO:
        olds = set(range(new + 2))
        news = set(range(2 * new + 2))
    else:
        olds = {0, old - 1, old + 1, old ^ 1, old ^ 2, new}
        news = {old, new - 1, new + 1, new * 2, new // 2, new ^ 1, new ^ 2}
    return ({(o, new) for o in olds} | {(old, n) for n in news}) - {(old, new)}


def test_consistency_proof_with_other_sizes_verifies_only_when_its_shape_is_the_same() -> None:
    same_shape_seen = 0
    for old, new in consistency_cases():
        proof = reference_consistency(old, new)
        old_root, new_root = mth(0, old), mth(0, new)
        for other_old, other_new in consistency_alternatives(old, new):
            valid = 0 < other_old < other_new
            same_shape = valid and (
                consistency_shape(other_old, other_new) == consistency_shape(old, new)
            )
            # The rule in the comment above, stated on the bits.
            assert same_shape == (
                valid and consistency_walk(other_old, other_new) == consistency_walk(old, new)
            ), (old, new, other_old, other_new)
            same_shape_seen += same_shape
            verified = verify_consistency(other_old, other_new, old_root, new_root, proof)
            assert verified == same_shape, (old, new, other_old, other_new)
    assert same_shape_seen > 0
    assert verify_consistency(2, 4, mth(0, 2), mth(0, 3), reference_consistency(2, 3))


def test_altered_consistency_proofs_do_not_verify() -> None:
    for old, new in consistency_cases():
        proof = reference_consistency(old, new)
        old_root, new_root = mth(0, old), mth(0, new)
        case = (old, new)
        for wrong_old_root in [mth(0, old - 1), new_root, OTHER_HASH, flipped(old_root)]:
            assert not verify_consistency(old, new, wrong_old_root, new_root, proof), case
        for wrong_new_root in [mth(0, new - 1), old_root, OTHER_HASH, flipped(new_root)]:
            assert not verify_consistency(old, new, old_root, wrong_new_root, proof), case
        assert not verify_consistency(old, new, new_root, old_root, proof), case
        for position in range(len(proof)):
            damaged = list(proof)
            damaged[position] = flipped(proof[position])
            assert not verify_consistency(old, new, old_root, new_root, damaged), (*case, position)
        for wrong_proof in [
            [],
            proof[:-1],
            proof[1:],
            [*proof, OTHER_HASH],
            [*proof, old_root],
            [*proof, new_root],
            [OTHER_HASH, *proof],
            [old_root, *proof],
            [proof[0], *proof],
        ]:
            assert not verify_consistency(old, new, old_root, new_root, wrong_proof), case


def test_consistency_edge_cases_follow_the_documented_choices() -> None:
    one, two = mth(0, 1), mth(0, 2)
    # Equal sizes: empty proof and equal roots.
    assert verify_consistency(1, 1, one, one, [])
    assert not verify_consistency(1, 1, one, two, [])
    assert not verify_consistency(1, 1, one, one, [one])
    # From the empty tree: empty proof, and the old root must be the empty root.
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, mth(0, 5), [])
    assert not verify_consistency(0, 0, one, one, [])
    assert not verify_consistency(0, 5, one, mth(0, 5), [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, mth(0, 5), [EMPTY_ROOT])
    # Back in time, or a non-trivial step with an empty proof.
    assert not verify_consistency(2, 1, two, one, [])
    assert not verify_consistency(2, 1, two, one, reference_consistency(1, 2))
    assert not verify_consistency(1, 2, one, two, [])
    assert not verify_consistency(-1, 2, one, two, reference_consistency(1, 2))


@pytest.mark.parametrize(
    ("old_root", "new_root", "proof"),
    [
        (mth(0, 3)[:31], mth(0, 4), reference_consistency(3, 4)),
        (mth(0, 3), mth(0, 4) + b"\x00", reference_consistency(3, 4)),
        (mth(0, 3), mth(0, 4), [node[:31] for node in reference_consistency(3, 4)]),
        (mth(0, 3), mth(0, 4), ["not bytes", *reference_consistency(3, 4)[1:]]),
        (mth(0, 3), mth(0, 4), [*reference_consistency(3, 4)[:-1], b""]),
    ],
)
def test_malformed_consistency_input_returns_false(
    old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    assert verify_consistency(3, 4, old_root, new_root, proof) is False
