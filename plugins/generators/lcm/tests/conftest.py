import pytest

from invprob.registry import Registry, new_registry


@pytest.fixture(scope="session")
def lcm_registry() -> Registry:
    """The core plus this distribution, loaded through its real entry point."""
    return new_registry(only={"invprob-plugin-lcm", "invprob-plugin-conv-manifold"}, strict=True)
