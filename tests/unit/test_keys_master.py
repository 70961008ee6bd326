"""The master key: its file, its text form and the keys derived from it."""

from __future__ import annotations

import base64
import os
import pickle
import stat
from pathlib import Path

import pytest

from keys import KeyFileError, MasterKey


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_new_creates_a_0600_file_that_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    written = MasterKey.write_new(path)
    assert mode_of(path) == 0o600
    assert path.read_text() == written.encoded() + "\n"
    assert MasterKey.from_file(path).encoded() == written.encoded()


def test_write_new_creates_missing_parent_directories_0700(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets" / "master.key"
    MasterKey.write_new(path)
    assert mode_of(tmp_path / "var") == 0o700
    assert mode_of(tmp_path / "var" / "secrets") == 0o700
    assert mode_of(path) == 0o600


def test_write_new_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = MasterKey.write_new(path)
    with pytest.raises(KeyFileError, match="already exists"):
        MasterKey.write_new(path)
    assert MasterKey.from_file(path).encoded() == first.encoded()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o610, 0o601])
def test_loading_a_file_others_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    MasterKey.write_new(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError) as info:
        MasterKey.from_file(path)
    assert str(path) in str(info.value)
    assert "chmod 600" in str(info.value)


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_owner_only_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    MasterKey.write_new(path)
    os.chmod(path, mode)
    MasterKey.from_file(path)


def test_missing_file_is_refused_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.key"
    with pytest.raises(KeyFileError, match=str(path)):
        MasterKey.from_file(path)


@pytest.mark.parametrize("content", [b"", b"not a key\n", b"\xff\xfe\n", b"QUJD\n", b"A" * 5000])
def test_file_with_invalid_content_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "master.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(KeyFileError, match=str(path)):
        MasterKey.from_file(path)


def test_encoded_round_trip_with_and_without_padding_and_whitespace() -> None:
    key = MasterKey.generate()
    text = key.encoded()
    assert len(text) == 44
    for variant in (text, text.rstrip("="), f"  {text}\n", text.rstrip("=") + "\r\n"):
        assert MasterKey.from_encoded(variant).encoded() == text


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_from_encoded_rejects_the_wrong_length(length: int) -> None:
    text = base64.urlsafe_b64encode(b"k" * length).decode()
    with pytest.raises(KeyFileError):
        MasterKey.from_encoded(text)


@pytest.mark.parametrize("text", ["", "!!!!", "a b c", "ab/+" * 11, "=" * 44, "A" * 42])
def test_from_encoded_rejects_what_is_not_urlsafe_base64(text: str) -> None:
    with pytest.raises(KeyFileError):
        MasterKey.from_encoded(text)


def test_different_labels_derive_independent_keys() -> None:
    master = MasterKey.generate()
    labels = ["kek-wrap", "blind-index", "audit-signing", "a", "b", "kek-wrap2"]
    derived = [master.derive(label) for label in labels]
    assert len(set(derived)) == len(labels)
    assert all(len(key) == 32 for key in derived)


def test_derive_is_deterministic_and_depends_on_the_master_key() -> None:
    master = MasterKey.generate()
    again = MasterKey.from_encoded(master.encoded())
    assert master.derive("x") == again.derive("x")
    assert master.derive("x", 64) == again.derive("x", 64)
    assert len(master.derive("x", 64)) == 64
    assert MasterKey.generate().derive("x") != master.derive("x")


def test_named_subkeys_use_their_labels() -> None:
    master = MasterKey.generate()
    assert master.blind_index_key() == master.derive("blind-index")
    assert master.signing_key().public_bytes() == master.signing_key().public_bytes()
    assert master.signing_key().public_bytes() != MasterKey.generate().signing_key().public_bytes()


def test_repr_does_not_reveal_the_key() -> None:
    master = MasterKey.generate()
    raw = base64.urlsafe_b64decode(master.encoded())
    for text in (repr(master), str(master), f"{master!r}"):
        assert master.encoded() not in text
        assert master.encoded().rstrip("=") not in text
        assert raw.hex() not in text


def test_master_key_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(MasterKey.generate())
