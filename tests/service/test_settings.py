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
            "RELAPSE_CDS_CARD_RETENTION_DAYS": "2",
        }
    )
    assert settings.primary_scheme == "inpog"
    assert settings.trusted_issuers == issuers
    assert settings.public_url == "https://cds.example.org"
    assert settings.cors_origins == ("https://sandbox.cds-hooks.org", "http://localhost:3000")
    assert settings.deadline_seconds == 4.5
    assert settings.card_retention_days == 2


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RELAPSE_CDS_PRIMARY_SCHEME", "stjude", "PRIMARY_SCHEME"),
        ("RELAPSE_CDS_AUTH", "basic", "AUTH"),
        ("RELAPSE_CDS_DEADLINE_SECONDS", "soon", "DEADLINE_SECONDS"),
        ("RELAPSE_CDS_SMART_SCOPE_STYLE", "v3", "SMART_SCOPE_STYLE"),
        ("RELAPSE_CDS_CARD_RETENTION_DAYS", "0", "CARD_RETENTION_DAYS"),
        ("RELAPSE_CDS_CARD_RETENTION_DAYS", "inf", "CARD_RETENTION_DAYS"),
        ("RELAPSE_CDS_CARD_RETENTION_DAYS", "nan", "CARD_RETENTION_DAYS"),
        ("RELAPSE_CDS_FHIR_SERVERS", "https://u:p@fhir.example.org", "FHIR_SERVERS"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"RELAPSE_CDS_AUTH": "none", name: value})


def test_jwt_needs_the_public_url(tmp_path: Path) -> None:
    # Else the audience would come from the request's Host, which the caller chooses.
    env = {"RELAPSE_CDS_TRUSTED_ISSUERS": str(tmp_path / "issuers.json")}
    with pytest.raises(SettingsError, match="RELAPSE_CDS_PUBLIC_URL"):
        Settings.from_env(env)
    settings = Settings.from_env({**env, "RELAPSE_CDS_PUBLIC_URL": "https://cds.example.org"})
    assert settings.public_url == "https://cds.example.org"


@pytest.mark.parametrize(
    "url",
    ["cds.example.org", "ftp://cds.example.org", "https://cds.example.org/?a=1", "https://x#f"],
)
def test_public_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        Settings.from_env({"RELAPSE_CDS_AUTH": "none", "RELAPSE_CDS_PUBLIC_URL": url})


def test_jwt_lifetime_cap_is_an_hour_unless_set() -> None:
    assert Settings.from_env({"RELAPSE_CDS_AUTH": "none"}).jwt_max_lifetime_seconds == 3600
    settings = Settings.from_env(
        {"RELAPSE_CDS_AUTH": "none", "RELAPSE_CDS_JWT_MAX_LIFETIME_SECONDS": "300"}
    )
    assert settings.jwt_max_lifetime_seconds == 300
    for bad in ("soon", "0"):
        with pytest.raises(SettingsError, match="JWT_MAX_LIFETIME_SECONDS"):
            Settings.from_env(
                {"RELAPSE_CDS_AUTH": "none", "RELAPSE_CDS_JWT_MAX_LIFETIME_SECONDS": bad}
            )


def test_fhir_servers_setting_is_refused_in_jwt_mode() -> None:
    env = {
        "RELAPSE_CDS_TRUSTED_ISSUERS": "issuers.json",
        "RELAPSE_CDS_PUBLIC_URL": "https://cds.example.org",
        "RELAPSE_CDS_FHIR_SERVERS": "https://fhir.example.org",
    }
    with pytest.raises(SettingsError, match="each issuer's fhir_servers"):
        Settings.from_env(env)
