"""Fixtures of the mapping tests: the default code sets, loaded once."""

from __future__ import annotations

import pytest

from mappings.codesets import CodeSets, load_codesets


@pytest.fixture(scope="session")
def codes() -> CodeSets:
    return load_codesets()
