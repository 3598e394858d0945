from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError


def test_defaults_require_trusted_issuers_for_jwt() -> None:
    with pytest.raises(SettingsError, match="RELAPSE_CDS_TRUSTED_ISSUERS"):
        Settings.from_env({})


def test_environment_is_read(tmp_path: Path) -> None:
    issuers = tmp_path / "issuers.json"
    settings = Settings.from_env(
        {
            "RELAPSE_CDS_PRIMARY_SCHEME": "InPOG",
            "RELAPSE_CDS_TRUSTED_ISSUERS": str(issuers),
            "RELAPSE_CDS_PUBLIC_URL": "https://cds.example.org/",
            "RELAPSE_CDS_CORS_ORIGINS": "https://sandbox.cds-hooks.org, ,http://localhost:3000",
            "RELAPSE_CDS_DEADLINE_SECONDS": "4.5",
        }
    )
    assert settings.primary_scheme == "inpog"
    assert settings.trusted_issuers == issuers
    assert settings.public_url == "https://cds.example.org"
    assert settings.cors_origins == ("https://sandbox.cds-hooks.org", "http://localhost:3000")
    assert settings.deadline_seconds == 4.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RELAPSE_CDS_PRIMARY_SCHEME", "stjude", "PRIMARY_SCHEME"),
        ("RELAPSE_CDS_AUTH", "basic", "AUTH"),
        ("RELAPSE_CDS_DEADLINE_SECONDS", "soon", "DEADLINE_SECONDS"),
        ("RELAPSE_CDS_SMART_SCOPE_STYLE", "v3", "SMART_SCOPE_STYLE"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"RELAPSE_CDS_AUTH": "none", name: value})
