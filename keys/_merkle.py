"""Merkle tree hashing, proofs and verification exactly as RFC 9162 section 2.1.

Leaves are hashed as ``SHA-256(0x00 || entry)`` and interior nodes as
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves splits at ``k``, the
largest power of two smaller than ``n``, and the tree over no leaves has the
root ``SHA-256("")``. These are the RFC 6962 trees that Certificate
Transparency, Go's checksum database and the C2SP tlog specifications use, so a
root computed here can be checked with their tools.

Everything below works on *leaf hashes*, never on entries: callers hash each
entry once with `leaf_hash` and store the result. The proof generators take a
``get_leaf(index) -> leaf hash`` callable so that the leaves can stay in a
database; each call reads every leaf of the subtrees it needs once, O(size).

RFC 9162 edge cases, decided here:

* An inclusion proof binds the leaf, its index and the root, but only partly the
  tree size: the verification walks only the bits of ``index`` and
  ``size - 1``, so a proof for ``(index, size)`` also verifies for another size
  whose walk is the same. Always take the size from the same signed checkpoint
  as the root.
* `verify_consistency` with ``old_size == new_size`` needs an empty proof and
  equal roots. With ``old_size == 0`` it needs an empty proof and ``old_root``
  equal to `EMPTY_ROOT` (the only root a tree of size 0 can have), and then
  holds for any well-formed ``new_root``: the empty tree is a prefix of every
  tree. ``old_size > new_size`` is never consistent.
* Consistency proofs from an empty tree or between equal sizes are empty
  (`consistency_proof` returns ``[]``); RFC 9162 defines PROOF only for
  ``0 < m < n``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every leaf, node and root hash (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the tree with no leaves: SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

GetLeaf = Callable[[int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """Return `leaf_hash` of each entry."""
    sha256 = hashlib.sha256
    return [sha256(_LEAF_PREFIX + entry).digest() for entry in entries]


def hash_chain(start: bytes, hashes: Iterable[bytes]) -> list[bytes]:
    """Return the running chain ``c_i = node_hash(c_(i-1), h_i)`` from ``c_(-1) =
    start``: each value commits to every hash before it, in order, so the first
    place where two sequences differ is the first chain value that differs."""
    sha256 = hashlib.sha256
    chain = start
    out = []
    for value in hashes:
        chain = sha256(_NODE_PREFIX + chain + value).digest()
        out.append(chain)
    return out


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes):
        raise ValueError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _split(n: int) -> int:
    """Return the largest power of two smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The compact range of a tree: one subtree hash per set bit of its size.

    The hashes are the roots of the perfect subtrees that cover leaves
    ``[0, size)``, largest (leftmost) first. They are all that is needed to
    append a leaf and to compute the root, so a log can keep them in one row and
    append without reading its history.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        """Create the frontier of the empty tree."""
        self._hashes: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash; amortized one node hash per call.

        Raises:
            ValueError: `leaf_hash` is not 32 bytes.
        """
        _check_hash(leaf_hash, "leaf hash")
        carry = leaf_hash
        size = self._size
        # Each trailing set bit of the size is a perfect subtree of the same
        # height as `carry`: merge them, as in a binary counter.
        while size & 1:
            carry = node_hash(self._hashes.pop(), carry)
            size >>= 1
        self._hashes.append(carry)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes (the same as `append` for each, with less
        overhead per leaf; for verifying a long log).

        Raises:
            ValueError: a leaf hash is not 32 bytes.
        """
        hashes = self._hashes
        size = self._size
        sha256 = hashlib.sha256
        for leaf in leaf_hashes:
            if len(leaf) != HASH_SIZE:
                raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
            carry = leaf
            bits = size
            while bits & 1:
                carry = sha256(_NODE_PREFIX + hashes.pop() + carry).digest()
                bits >>= 1
            hashes.append(carry)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """Return the Merkle tree hash of the leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result

    def to_bytes(self) -> bytes:
        """Return the subtree hashes concatenated, largest first (32 bytes each)."""
        return b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        """Rebuild a frontier stored with `to_bytes`.

        Args:
            size: the tree size the frontier was saved at.
            data: the output of `to_bytes` at that size.

        Raises:
            ValueError: `size` is negative or `data` is not exactly one 32-byte
                hash per set bit of `size`.
        """
        if size < 0:
            raise ValueError(f"tree size must not be negative, got {size}")
        expected = HASH_SIZE * size.bit_count()
        if len(data) != expected:
            raise ValueError(
                f"frontier of a tree of size {size} must be {expected} bytes, got {len(data)}"
            )
        frontier = cls()
        frontier._hashes = [bytes(data[i : i + HASH_SIZE]) for i in range(0, expected, HASH_SIZE)]
        frontier._size = size
        return frontier

    def __repr__(self) -> str:
        return f"Frontier(size={self._size})"


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) over leaf hashes, with n - 1 node hashes.

    Raises:
        ValueError: a leaf hash is not 32 bytes.
    """
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


def subtree_root(start: int, end: int, get_leaf: GetLeaf) -> bytes:
    """Return the Merkle tree hash over leaves ``[start, end)``.

    Args:
        start: first leaf index.
        end: one past the last leaf index.
        get_leaf: returns the leaf hash at an index.

    Raises:
        ValueError: ``0 <= start <= end`` does not hold, or a leaf hash is not
            32 bytes.
    """
    if not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    return root(get_leaf(index) for index in range(start, end))


def inclusion_proof(index: int, size: int, get_leaf: GetLeaf) -> list[bytes]:
    """Return the inclusion proof PATH(index, D[size]) of RFC 9162 2.1.3.1.

    The proof lists sibling subtree hashes from the leaf up to the root. Each
    sibling is hashed once from its leaves, so the cost is ``size - 1`` leaf
    reads and node hashes.

    Args:
        index: the leaf to prove, ``0 <= index < size``.
        size: the tree size the proof is for.
        get_leaf: returns the leaf hash at an index below `size`.

    Raises:
        ValueError: `index` is negative or not below `size`.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    siblings: list[bytes] = []
    start, end = 0, size
    # Walk down from the root; the sibling found at each level goes on the end
    # of PATH, so the list is reversed at the end.
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            siblings.append(subtree_root(middle, end, get_leaf))
            end = middle
        else:
            siblings.append(subtree_root(start, middle, get_leaf))
            start = middle
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, new_size: int, get_leaf: GetLeaf) -> list[bytes]:
    """Return the consistency proof PROOF(old_size, D[new_size]) of RFC 9162 2.1.4.1.

    Args:
        old_size: the earlier tree size, ``0 <= old_size <= new_size``.
        new_size: the later tree size.
        get_leaf: returns the leaf hash at an index below `new_size`.

    Returns:
        The proof; empty when `old_size` is 0 or equals `new_size` (nothing to
        prove, see the module docstring).

    Raises:
        ValueError: `old_size` is negative or larger than `new_size`.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from tree size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    nodes: list[bytes] = []
    start, end = 0, new_size
    remaining = old_size  # SUBPROOF's m, relative to `start`
    whole = True  # SUBPROOF's b: is D[start:start+m] the whole old tree?
    while True:
        n = end - start
        if remaining == n:
            if not whole:
                nodes.append(subtree_root(start, end, get_leaf))
            break
        k = _split(n)
        if remaining <= k:
            nodes.append(subtree_root(start + k, end, get_leaf))
            end = start + k
        else:
            nodes.append(subtree_root(start, start + k, get_leaf))
            start += k
            remaining -= k
            whole = False
    nodes.reverse()
    return nodes


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the algorithm of RFC 9162 2.1.3.2.

    Args:
        leaf_hash: the leaf's hash (not the entry).
        index: the leaf's index.
        size: the tree size the proof is for.
        proof: the sibling hashes, nearest the leaf first.
        root: the tree's root at `size`.

    Returns:
        True if the proof holds; False otherwise, including for a negative
        index, ``index >= size`` and hashes that are not 32 bytes. Never raises.
    """
    # The parameters shadow the module's `leaf_hash` and `root`, which are not
    # needed here; the names match RFC 9162 and the callers' keywords.
    if not (_is_hash(leaf_hash) and _is_hash(root)) or not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = leaf_hash
    for sibling in proof:
        if sn == 0 or not _is_hash(sibling):
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof with the algorithm of RFC 9162 2.1.4.2.

    Args:
        old_size: the earlier tree size.
        new_size: the later tree size.
        old_root: the root at `old_size`.
        new_root: the root at `new_size`.
        proof: the proof from `consistency_proof`.

    Returns:
        True if the tree at `new_size` extends the one at `old_size`; False
        otherwise, including for hashes that are not 32 bytes and
        ``old_size > new_size``. Equal and zero sizes are handled as the module
        docstring says. Never raises.
    """
    if not (_is_hash(old_root) and _is_hash(new_root)) or not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT and (new_size > 0 or new_root == old_root)
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    # 1. An empty proof fails.
    if len(proof) == 0:
        return False
    # 2. If the old size is a power of two, the old root is the first node.
    path: Iterator[bytes] = iter(proof)
    if old_size & (old_size - 1) == 0:
        path = chain((old_root,), path)
    # 3.-4. Skip the levels where the old tree's last node is a right child.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Both running hashes start from the first node.
    first = next(path)
    if not _is_hash(first):
        return False
    fr = sr = first
    # 6. Fold in the remaining nodes.
    for node in path:
        if sn == 0 or not _is_hash(node):
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    # 7. Both roots must match and the whole path must have been used.
    return sn == 0 and fr == old_root and sr == new_root
