"""The sandbox ships copies of the shared reference data; they must not drift from the originals."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
DATA = ROOT / "agent" / "sandbox" / "data"
COPIES = {
    "bng-sample-data.json": "bng-api/sample-data.json",
    "bng-openapi.yaml": "bng-api/openapi.yaml",
    "nop-sample-data.json": "nopcommerce/sample-data.json",
}


@pytest.mark.parametrize("copy,original", COPIES.items())
def test_copy_matches_shared_original(copy, original):
    source = SHARED / original
    if not source.exists():
        pytest.skip(f"the shared folder is not beside this checkout ({source})")
    assert (DATA / copy).read_bytes() == source.read_bytes(), f"{copy} differs from shared/{original}: copy it again"
