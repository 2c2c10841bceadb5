from pathlib import Path

import pytest

from invprob.registry import Registry, new_registry

FIXTURES = Path(__file__).resolve().parents[4] / ".." / "shared" / "fixtures" / "stylegan2"


@pytest.fixture(scope="session")
def stylegan2_registry() -> Registry:
    """The core plus this distribution, loaded through its real entry point."""
    return new_registry(only={"invprob-plugin-stylegan2"}, strict=True)


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """``../shared/fixtures/stylegan2`` (rosinality reference outputs); the test is skipped without it."""
    if not (FIXTURES / "checkpoint.pt").is_file():
        pytest.skip("../shared/fixtures/stylegan2 is not present (it is never shipped with the project)")
    return FIXTURES


@pytest.fixture(scope="session")
def reference(fixtures: Path):
    from safetensors.torch import load_file

    return load_file(str(fixtures / "reference.safetensors"))


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one CPU thread is faster than two fighting over a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
