"""KernelBank: atomic deterministic save, strict load, fingerprint."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from wakeword.errors import KernelError
from wakeword.kernels import bank as bank_module
from wakeword.kernels.bank import KernelBank, load_default_bank
from wakeword.kernels.recipe import KernelRecipe


def make_bank(**changes: object) -> KernelBank:
    values: dict[str, object] = {
        "kernels": np.arange(12, dtype=np.float32).reshape(4, 3) / 10,
        "neuron_ids": np.array([720575940000000001, 2, 3, 4]),
        "path": np.array([3, 0, 1]),
        "recipe": KernelRecipe(),
        "source": {"files": {"edges.csv": "ab" * 32}, "neurons": 4},
        "attribution": "CC BY 4.0 test",
    }
    values.update(changes)
    return KernelBank(**values)  # type: ignore[arg-type]


def test_save_load_round_trip(tmp_path):
    bank = make_bank()
    path = bank.save(tmp_path / "bank.npz")
    loaded = KernelBank.load(path)
    np.testing.assert_array_equal(loaded.kernels, bank.kernels)
    assert loaded.kernels.dtype == np.float32 and loaded.neuron_ids.dtype == np.int64
    np.testing.assert_array_equal(loaded.neuron_ids, bank.neuron_ids)
    np.testing.assert_array_equal(loaded.path, bank.path)
    assert loaded.recipe == bank.recipe
    assert loaded.source == bank.source
    assert loaded.attribution == bank.attribution
    assert loaded.fingerprint() == bank.fingerprint()
    assert loaded.same_content(bank)
    np.testing.assert_array_equal(loaded.path_kernels, bank.kernels[[3, 0, 1]])


def test_saving_is_deterministic_and_leaves_no_temporary_files(tmp_path):
    make_bank().save(tmp_path / "a.npz")
    make_bank().save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]
    with np.load(tmp_path / "a.npz", allow_pickle=False) as archive:  # plain numpy can read it
        assert archive["kernels"].shape == (4, 3)


def test_saving_replaces_an_existing_file(tmp_path):
    target = tmp_path / "bank.npz"
    make_bank().save(target)
    make_bank(path=np.array([0])).save(target)
    np.testing.assert_array_equal(KernelBank.load(target).path, [0])


def test_fingerprint_is_stable_and_sensitive():
    assert make_bank().fingerprint() == make_bank().fingerprint()
    reference = make_bank().fingerprint()
    assert len(reference) == 64
    changed_kernel = make_bank(kernels=np.arange(12, dtype=np.float32).reshape(4, 3))
    assert changed_kernel.fingerprint() != reference
    assert make_bank(path=np.array([0, 1, 3])).fingerprint() != reference
    assert make_bank(recipe=KernelRecipe(seed=1)).fingerprint() != reference
    # the source and attribution describe the inputs; they are not part of the fingerprint
    assert make_bank(attribution="other").fingerprint() == reference


def test_missing_file_says_how_to_build_one(tmp_path):
    with pytest.raises(KernelError, match=r"nothing\.npz: kernel bank not found; build one with "
                                          r"`wakeword kernels"):
        KernelBank.load(tmp_path / "nothing.npz")


def test_corrupt_file_is_named(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(KernelError, match=r"corrupt\.npz: unreadable or corrupt"):
        KernelBank.load(path)


def test_missing_entry_and_wrong_shapes_are_named(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, kernels=np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(KernelError, match=r"partial\.npz: not a kernel bank, missing entries"):
        KernelBank.load(path)
    good = make_bank().save(tmp_path / "good.npz")
    with np.load(good, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files}
    entries["kernels"] = entries["kernels"].astype(np.float64)
    np.savez(tmp_path / "wide.npz", **entries)
    with pytest.raises(KernelError, match=r"wide\.npz: 'kernels' must be float32"):
        KernelBank.load(tmp_path / "wide.npz")
    entries["kernels"] = entries["kernels"].astype(np.float32)
    entries["path"] = np.array([9], dtype=np.int64)
    np.savez(tmp_path / "path.npz", **entries)
    with pytest.raises(KernelError, match=r"path\.npz: path indices must be rows of kernels"):
        KernelBank.load(tmp_path / "path.npz")
    entries["path"] = np.array([0], dtype=np.int64)
    entries["recipe_json"] = np.array('{"kernel_size": 9}')
    np.savez(tmp_path / "recipe.npz", **entries)
    with pytest.raises(KernelError, match=r"recipe\.npz: recipe_json: missing key"):
        KernelBank.load(tmp_path / "recipe.npz")


def test_bank_validates_its_fields():
    with pytest.raises(KernelError, match="neuron_ids must be 4 integers"):
        make_bank(neuron_ids=np.array([1, 2]))
    with pytest.raises(KernelError, match="finite"):
        make_bank(kernels=np.full((4, 3), np.nan, dtype=np.float32))
    with pytest.raises(KernelError, match=r"must end in \.npz"):
        make_bank().save("bank.bin")


def test_missing_default_bank_explains_how_to_regenerate(tmp_path, monkeypatch):
    monkeypatch.setattr(bank_module, "DEFAULT_KERNEL_BANK", tmp_path / "absent.npz")
    with pytest.raises(KernelError, match="default kernel bank is missing; regenerate it with"):
        load_default_bank()


def test_zip_entries_have_a_fixed_timestamp(tmp_path):
    path = make_bank().save(tmp_path / "bank.npz")
    with zipfile.ZipFile(path) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
