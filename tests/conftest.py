from __future__ import annotations

import pytest

from wakeword.paths import flywire_dir, shared_dir


@pytest.fixture
def flywire():
    """The shared FlyWire auditory folder; tests that use it skip when ../shared is absent."""
    path = flywire_dir()
    if path is None:
        pytest.skip("../shared/data/connectome/flywire_auditory is not present")
    return path


@pytest.fixture
def shared():
    path = shared_dir()
    if path is None:
        pytest.skip("../shared is not present")
    return path
