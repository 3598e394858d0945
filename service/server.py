"""`relapse-cds serve`: the app under gunicorn, configured from the environment."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from service.app import create_app
from service.logs import configure_logging
from service.settings import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def serve(host: str, port: int, workers: int) -> None:
    configure_logging()
    # Built before forking, so every worker starts warm and configuration errors stop startup:
    # settings, an institution's code sets and the trusted issuers file are all read here.
    app = create_app(Settings.from_env())
    _Gunicorn(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "timeout": 30,
            # gunicorn's access log would write request paths (patient ids) at INFO.
            "accesslog": None,
            "errorlog": "-",
        },
    ).run()
