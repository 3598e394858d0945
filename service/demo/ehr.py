"""A small local test EHR: SMART authorization server (Authlib) and a token-checking FHIR proxy.

For demos and tests only. Every client, launch, code and token lives in process memory and is
lost on restart; there is one demo user and no login. Do not expose it beyond loopback.

- `/fhir/.well-known/smart-configuration`: SMART App Launch 2.0 discovery for the proxied base.
- `/authorize`: approve/deny page (authorization code grant, PKCE S256 required).
- `/token`: token response with `patient` and, when the launch carried one, `appContext`.
- `/launch/<patient_id>?appContext=...&view=...`: what an EHR does when a user opens a card's
  link: the link's own query (here `view`) is kept, `iss` and `launch` are added.
- `/fhir/<path>`: forwards GETs to the upstream FHIR server for a valid bearer token only.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, abort, redirect, render_template_string, request
from werkzeug.wrappers import Response as BaseResponse

CLIENT_ID = "relapse-cds-app"
_UPSTREAM_TIMEOUT = (3.05, 20.0)
_CODE_LIFETIME = 600
# Hop-by-hop and length headers the proxy must not copy from upstream.
_DROP_HEADERS = {"connection", "content-length", "content-encoding", "transfer-encoding"}


@dataclass(frozen=True)
class _User:
    """The demo clinician; `patient` is the one picked on the approval page (standalone)."""

    patient: str | None = None

    def get_user_id(self) -> str:
        return "demo-clinician"


@dataclass(frozen=True)
class _Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # public client

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    patient: str | None
    app_context: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> None:
        return None


@dataclass(frozen=True)
class _Launch:
    patient: str
    app_context: str | None


@dataclass
class _Store:
    """In-memory state of the demo EHR (one process, test use only)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    launches: dict[str, _Launch] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry (epoch s)


class _S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256, required on every authorization request (not only at the token step)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


_AUTHORIZE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo EHR: authorize app</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto;">
<h1>Authorize {{ client_id }}</h1>
<p>The app asks for: <code>{{ scope }}</code></p>
<form method="post">
{% if need_patient %}
<p><label for="patient">Patient id</label>
<input id="patient" name="patient" value="{{ default_patient or '' }}" required></p>
{% endif %}
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>"""


def create_ehr_app(
    fhir_upstream: str,
    public_base: str,
    app_launch_url: str,
    *,
    redirect_uris: tuple[str, ...] | None = None,
    auto_approve: bool = False,
    default_patient: str | None = None,
    token_lifetime: int = 3600,
) -> Flask:
    """Build the demo EHR.

    `public_base` is this app's own URL (its FHIR base is `{public_base}/fhir`). The client's
    redirect URI defaults to `callback` next to `app_launch_url`. `auto_approve` skips the
    approval page (tests); `default_patient` is picked for a standalone launch.
    `token_lifetime` 0 issues tokens the proxy refuses at once (tests of expired access).
    """
    upstream = fhir_upstream.rstrip("/")
    public_base = public_base.rstrip("/")
    fhir_base = f"{public_base}/fhir"
    if redirect_uris is None:
        redirect_uris = (app_launch_url.rsplit("/", 1)[0] + "/callback",)
    client = _Client(CLIENT_ID, redirect_uris)
    store = _Store()

    app = Flask(__name__)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": token_lifetime}

    class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # noqa: RUF012 (Authlib's class attribute)

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            launch = store.launches.get(data.get("launch", ""))
            patient = launch.patient if launch else req.user.patient
            with store.lock:
                store.codes[code] = _Code(
                    code=code,
                    client_id=req.client.get_client_id(),
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.payload.scope,
                    code_challenge=data["code_challenge"],
                    code_challenge_method=data["code_challenge_method"],
                    patient=patient,
                    app_context=launch.app_context if launch else None,
                    expires_at=time.time() + _CODE_LIFETIME,
                )

        def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
            item = store.codes.get(code)
            if item and item.client_id == client.get_client_id() and item.expires_at > time.time():
                return item
            return None

        def delete_authorization_code(self, authorization_code: _Code) -> None:
            with store.lock:
                store.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: _Code) -> _User:
            return _User(authorization_code.patient)

    def save_token(token: dict[str, Any], req: Any) -> None:
        code: _Code = req.authorization_code
        with store.lock:
            store.tokens[token["access_token"]] = time.time() + token_lifetime
        # SMART launch context travels in the token response.
        if code.patient:
            token["patient"] = code.patient
        if code.app_context:
            token["appContext"] = code.app_context

    server = AuthorizationServer(app, query_client=lambda cid: client if cid == CLIENT_ID else None)
    server.init_app(app, save_token=save_token)
    server.register_grant(_CodeGrant, [_S256Only(required=True)])

    @app.get("/fhir/.well-known/smart-configuration")
    def smart_configuration() -> dict[str, Any]:
        return {
            "issuer": public_base,
            "authorization_endpoint": f"{public_base}/authorize",
            "token_endpoint": f"{public_base}/token",
            "token_endpoint_auth_methods_supported": ["none"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["launch", "launch/patient", "openid", "fhirUser"],
            "response_types_supported": ["code"],
            "capabilities": [
                "launch-ehr",
                "launch-standalone",
                "client-public",
                "context-ehr-patient",
                "context-standalone-patient",
                "permission-v1",
                "permission-v2",
            ],
        }

    @app.get("/launch/<patient_id>")
    def launch(patient_id: str) -> BaseResponse:
        launch_id = secrets.token_urlsafe(16)
        with store.lock:
            store.launches[launch_id] = _Launch(patient_id, request.args.get("appContext"))
        kept = {k: v for k, v in request.args.items() if k != "appContext"}
        query = urlencode(kept | {"iss": fhir_base, "launch": launch_id})
        return redirect(f"{app_launch_url}?{query}")

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Response | str | tuple[str, int]:
        args = request.values
        launch_id = args.get("launch")
        if args.get("aud", "").rstrip("/") != fhir_base:
            return "The aud parameter must name this EHR's FHIR base.", 400
        if launch_id is not None and launch_id not in store.launches:
            return "Unknown launch id.", 400
        need_patient = launch_id is None
        decision = "approve" if auto_approve else request.form.get("decision")
        patient = request.form.get("patient") or default_patient
        user = _User(patient)
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            # Redirects with `error=` once the redirect URI is trusted, else a 400.
            refused: Response = server.handle_error_response(request, error)
            return refused
        if decision is None:
            return render_template_string(
                _AUTHORIZE_PAGE,
                client_id=CLIENT_ID,
                scope=args.get("scope", ""),
                need_patient=need_patient,
                default_patient=default_patient,
            )
        granted = decision == "approve" and (patient is not None or not need_patient)
        response: Response = server.create_authorization_response(
            grant_user=user if granted else None, grant=grant
        )
        return response

    @app.post("/token")
    def issue_token() -> Response:
        response: Response = server.create_token_response()
        return response

    @app.get("/fhir/<path:path>")
    def fhir_proxy(path: str) -> Response:
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        expiry = store.tokens.get(token)
        if expiry is None or expiry <= time.time():
            abort(401)
        url = f"{upstream}/{path}"
        if request.query_string:
            url += "?" + request.query_string.decode("ascii", "replace")
        try:
            up = requests.get(
                url,
                headers={"Accept": request.headers.get("Accept", "application/fhir+json")},
                timeout=_UPSTREAM_TIMEOUT,
            )
        except requests.RequestException:
            abort(502)
        # Paging links must point back at the proxy, not at the hidden upstream.
        body = up.content.replace(upstream.encode(), fhir_base.encode())
        headers = [(k, v) for k, v in up.headers.items() if k.lower() not in _DROP_HEADERS]
        return Response(body, status=up.status_code, headers=headers)

    return app
