"""Real loopback stack for the SMART app: sekmet-fhir, the demo EHR and the app."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from cds_hooks.fhir import FhirClient
from mappings.codesets import load_codesets
from service.demo.ehr import create_ehr_app
from service.engine import EngineResult, fetch_and_assess
from service.smart import SmartConfig, create_smart_blueprint
from tests.servers import load_bundle, sekmet_server, wsgi_server

DATA = Path(__file__).resolve().parent / "data"
AS_OF = date(2026, 11, 22)


class LateApp:
    """A WSGI app set after its server started, so it can know its own URL."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def make_smart_app(
    database: Path,
    *,
    app_url: str = "http://127.0.0.1:9/",
    issuers: tuple[str, ...] = (),
    scope_style: str = "v2",
    client_secret: str | None = None,
) -> Flask:
    """The SMART app alone, allowing launches from `issuers`, its callback under `app_url`."""
    codes = load_codesets()

    def assess(client: FhirClient, patient_id: str) -> EngineResult:
        return fetch_and_assess(
            client,
            patient_id,
            codes=codes,
            primary="bfm",
            as_of=AS_OF,
            deadline=time.monotonic() + 20,
        )

    config = SmartConfig(
        client_id="relapse-cds-app",
        redirect_url=f"{app_url.rstrip('/')}/app/callback",
        scopes="",
        scope_style="v1" if scope_style == "v1" else "v2",
        client_secret=client_secret,
        session_secret=b"test-session-secret-0123456789",
        allowed_issuers=issuers,
    )
    app = Flask(__name__)
    engine = sa.create_engine(f"sqlite:///{database}")
    app.register_blueprint(create_smart_blueprint(config, assess, engine))
    return app


@dataclass(frozen=True)
class Stack:
    fhir: str  # sekmet FHIR base
    app: str  # root URL of the SMART app server
    ehr: str  # root URL of the demo EHR

    @property
    def iss(self) -> str:
        return f"{self.ehr}/fhir"


@pytest.fixture(scope="session")
def fhir_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sekmet_server(tmp_path_factory.mktemp("sekmet")) as base:
        for path in sorted(DATA.glob("*.json")):
            load_bundle(base, json.loads(path.read_text(encoding="utf-8")))
        yield base


@dataclass(frozen=True)
class AppServer:
    url: str
    holder: LateApp
    database: Path


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    holder = LateApp()
    database = tmp_path_factory.mktemp("smart") / "sessions.sqlite3"
    with wsgi_server(holder) as url:
        holder.app = make_smart_app(database, app_url=url)
        yield AppServer(url, holder, database)


@pytest.fixture
def app_url(app_server: AppServer) -> str:
    return app_server.url


StackFactory = Callable[..., Stack]


@pytest.fixture
def make_stack(fhir_base: str, app_server: AppServer) -> Iterator[StackFactory]:
    """Start a demo EHR (options as for create_ehr_app) in front of the shared FHIR server.

    The app is set up anew to allow launches from that EHR only.
    """
    app_url = app_server.url
    with ExitStack() as stack:

        def start(**options: Any) -> Stack:
            holder = LateApp()
            ehr_url = stack.enter_context(wsgi_server(holder))
            holder.app = create_ehr_app(fhir_base, ehr_url, f"{app_url}/app/launch", **options)
            app_server.holder.app = make_smart_app(
                app_server.database, app_url=app_url, issuers=(f"{ehr_url}/fhir",)
            )
            return Stack(fhir_base, app_url, ehr_url)

        yield start
