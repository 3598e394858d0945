"""The one FHIR client of the service: bounded, deadline-aware, never logs tokens or queries."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from cds_hooks import jsonbody
from cds_hooks.errors import (
    FhirAuthError,
    FhirError,
    FhirInvalidResponse,
    FhirNotFound,
    FhirOperationOutcome,
    FhirTimeout,
    FhirUnavailable,
    PrefetchFailure,
    issue_type,
)
from cds_hooks.metrics import observe_fhir_read
from cds_hooks.models import shape_problem
from cds_hooks.servers import origin

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_READ_PATH = re.compile(r"([A-Z][A-Za-z]+)/[A-Za-z0-9\-\.]{1,64}")
MAX_PARALLEL = 8
# What a query value keeps unencoded: unreserved characters, "%" (already encoded), "+" (a form
# space) and "," (FHIR's "or"). "/", ":" and "|" are encoded: proxies that collapse "//" or
# split at "|" would otherwise change the search (http://loinc.org|… loses its LOINC results).
_QUERY_VALUE_SAFE = "-._~%+,"
# One FHIR answer; larger ones are refused rather than parsed (bounded memory and CPU).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_CHUNK = 64 * 1024


def encode_query(url: str) -> str:
    """`url` with every query parameter value percent-encoded; idempotent, names left as is."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    params = []
    for param in parts.query.split("&"):
        name, eq, value = param.partition("=")
        params.append(name + eq + quote(value, safe=_QUERY_VALUE_SAFE))
    return urlunsplit(parts._replace(query="&".join(params)))


def _loggable(url: str) -> str:
    """The URL path only: query strings carry patient ids."""
    return urlsplit(url).path


class FhirClient:
    """Reads and searches one FHIR server; `deadline` is an absolute time.monotonic() value."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        *,
        access_token: str | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        max_pages: int = 20,
        deadline: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._session = session
        self._access_token = access_token
        self._timeout = timeout
        self._max_pages = max_pages
        self._deadline = deadline

    def __repr__(self) -> str:
        return f"FhirClient({self.base_url!r})"

    def read(self, path: str) -> dict[str, Any]:
        """GET one resource; a `Type/id` path must answer with that resource type."""
        resource = self._get(self._url(path))
        match = _READ_PATH.fullmatch(path.strip("/"))
        if match and resource["resourceType"] != match.group(1):
            raise FhirInvalidResponse(f"expected {match.group(1)}, got {resource['resourceType']}")
        return resource

    def search(self, path_or_url: str) -> list[dict[str, Any]]:
        """Every entry resource of a search, following `next` links on the same origin."""
        first = self._get(self._url(path_or_url))
        if first["resourceType"] != "Bundle":
            raise FhirInvalidResponse(f"expected Bundle, got {first['resourceType']}")
        return self.entries_of(first, self._url(path_or_url))

    def entries_of(self, bundle: Mapping[str, Any], url: str | None = None) -> list[dict[str, Any]]:
        """Resources of `bundle` and of every page after it (bounded, loop-checked).

        Raises FhirError when the first page holds only an OperationOutcome with an error.
        """
        seen = {url} if url else set()
        resources = bundle_resources(bundle)
        pages = 1
        next_url = next_link(bundle)
        while next_url is not None:
            absolute = self._page_url(next_url)
            if absolute in seen:
                raise FhirInvalidResponse("paging loop: a next link repeats an earlier page")
            pages += 1
            if pages > self._max_pages:
                raise FhirInvalidResponse(f"more than {self._max_pages} pages")
            seen.add(absolute)
            page = self._get(absolute)
            if page["resourceType"] != "Bundle":
                raise FhirInvalidResponse(f"expected Bundle page, got {page['resourceType']}")
            resources.extend(bundle_resources(page))
            next_url = next_link(page)
        return resources

    def fetch(self, query: str) -> list[dict[str, Any]]:
        """Resources a prefetch-style query yields: a read gives [it], a search its entries."""
        url = self._url(query)
        resource = self._get(url)
        if resource["resourceType"] == "Bundle":
            return self.entries_of(resource, url)
        match = _READ_PATH.fullmatch(query.strip("/").split("?")[0])
        if match and resource["resourceType"] != match.group(1):
            raise FhirInvalidResponse(f"expected {match.group(1)}, got {resource['resourceType']}")
        if resource["resourceType"] == "OperationOutcome":
            return []  # only warnings or information: no data
        return [resource]

    def fetch_all(
        self, queries: Mapping[str, str], deadline: float
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, PrefetchFailure]]:
        """Run every query in parallel before `deadline`; (resources by key, failures by key)."""
        results: dict[str, list[dict[str, Any]]] = {}
        failures: dict[str, PrefetchFailure] = {}
        if not queries:
            return results, failures
        bounded = self._with_deadline(deadline)
        cutter = _Cutter()
        # Only this call's connections: they are cut at its deadline.
        session = _session_like(self._session)
        session.mount(bounded.base_url, cutter.adapter)
        bounded._session = session
        pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(queries)))
        try:
            futures = {key: pool.submit(bounded.fetch, query) for key, query in queries.items()}
            wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
            for key, future in futures.items():
                if not future.done():
                    failures[key] = PrefetchFailure(
                        "timeout", "timed out (deadline passed)", network=True
                    )
                    continue
                error = future.exception()
                if error is None:
                    results[key] = future.result()
                elif isinstance(error, FhirError):
                    failures[key] = error.failure()
                else:
                    logger.warning("prefetch query failed: %s", type(error).__name__)
                    failures[key] = PrefetchFailure("exception", "unexpected error", network=True)
        finally:
            # Late workers are not awaited (the deadline is the contract) but their sockets are
            # shut, so a server dribbling bytes does not keep a thread and a socket afterwards.
            pool.shutdown(wait=False, cancel_futures=True)
            cutter.cut()
            session.close()
        return results, failures

    def _with_deadline(self, deadline: float) -> FhirClient:
        current = self._deadline
        return FhirClient(
            self.base_url,
            self._session,
            access_token=self._access_token,
            timeout=self._timeout,
            max_pages=self._max_pages,
            deadline=deadline if current is None else min(current, deadline),
        )

    def _url(self, path_or_url: str) -> str:
        """A query of ours: relative to the FHIR base, even with a leading "/"."""
        return self._checked(urljoin(self.base_url, path_or_url.lstrip("/")))

    def _page_url(self, link: str) -> str:
        """A server's `next` link: absolute, root-relative (against the origin) or relative,
        and on this server base (the bearer token goes with it)."""
        url = self._checked(urljoin(self.base_url, link))
        if not url.startswith(self.base_url):
            raise FhirInvalidResponse("refusing a next link outside the FHIR server base")
        return url

    def _checked(self, url: str) -> str:
        if origin(url) != origin(self.base_url):
            raise FhirInvalidResponse("refusing a URL on another origin than the FHIR server")
        return encode_query(url)

    def _timeouts(self) -> tuple[float, float]:
        connect, read = self._timeout
        if self._deadline is None:
            return connect, read
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise FhirTimeout("timed out (deadline passed before the call)")
        return min(connect, remaining), min(read, remaining)

    def _get(self, url: str) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            resource = self._get_json(url)
        except FhirError as exc:
            observe_fhir_read(time.perf_counter() - started, type(exc).__name__)
            raise
        observe_fhir_read(time.perf_counter() - started, None)
        code = outcome_error_code(resource)
        if code is not None:
            raise FhirOperationOutcome(code)
        return resource

    def _get_json(self, url: str) -> dict[str, Any]:
        headers = {"Accept": FHIR_JSON}
        if self._access_token:
            headers["Authorization"] = f"Bearer {self._access_token}"
        timeout = self._timeouts()
        logger.debug("FHIR GET %s", _loggable(url))
        try:
            with self._session.get(
                url, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            ) as response:
                content = self._content(response)
        except requests.Timeout:
            raise FhirTimeout("FHIR server timed out") from None
        except requests.RequestException as exc:
            raise FhirUnavailable(f"FHIR server unreachable ({type(exc).__name__})") from None
        status = response.status_code
        logger.debug("FHIR GET %s -> %d", _loggable(url), status)
        if content is None:
            raise FhirInvalidResponse(f"FHIR server answered more than {MAX_RESPONSE_BYTES} bytes")
        if status in (401, 403):
            raise FhirAuthError(f"FHIR server refused access ({status})")
        if status in (404, 410):
            raise FhirNotFound(f"FHIR server answered {status} (not found)")
        if status >= 500:
            raise FhirUnavailable(f"FHIR server answered {status}")
        if status != 200:
            raise FhirError(f"FHIR server answered {status}")
        try:
            body = jsonbody.loads(content)
        except jsonbody.TooDeep:
            raise FhirInvalidResponse("FHIR server answered JSON nested too deeply") from None
        except ValueError:
            kind = response.headers.get("Content-Type", "unknown").split(";")[0]
            raise FhirInvalidResponse(f"FHIR server answered non-JSON ({kind})") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirInvalidResponse("FHIR server answered JSON that is not a resource")
        problem = shape_problem(body)
        if problem is not None:
            raise FhirInvalidResponse(f"FHIR server answered a malformed {body['resourceType']}")
        return body

    def _content(self, response: requests.Response) -> bytes | None:
        """The body, or None when it is larger than MAX_RESPONSE_BYTES (not read further)."""
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                return None
            chunks.append(chunk)
        return b"".join(chunks)


def _session_like(session: requests.Session) -> requests.Session:
    """A new session with the TLS, proxy and header settings of `session`."""
    copy = requests.Session()
    copy.headers.update(session.headers)
    copy.verify = session.verify
    copy.cert = session.cert
    copy.proxies = dict(session.proxies)
    copy.trust_env = session.trust_env
    return copy


class _Cutter:
    """The connections of one `fetch_all`, whose sockets `cut` shuts down.

    A blocked `recv` only returns when its socket is shut down (closing it from another thread
    does not wake it), and a server sending a byte now and then never trips a read timeout.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        self.adapter = _TrackingAdapter(self._track)

    def _track(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)

    def cut(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            sock = connection.sock
            if sock is None:
                continue
            with contextlib.suppress(OSError):  # already closed: nothing to release
                sock.shutdown(socket.SHUT_RDWR)


class _TrackingAdapter(HTTPAdapter):
    """Hands every new connection of its pools to `track`."""

    def __init__(self, track: Callable[[HTTPConnection], None]) -> None:
        super().__init__(pool_maxsize=MAX_PARALLEL)
        self._track = track

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> HTTPConnectionPool:
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        if not isinstance(pool, HTTPConnectionPool):
            raise TypeError(f"unexpected connection pool {type(pool).__name__}")
        if not getattr(pool, "_tracked", False):
            new_connection = pool._new_conn
            track = self._track

            def tracked() -> Any:
                connection = new_connection()
                if isinstance(connection, HTTPConnection):  # HTTPSConnection too
                    track(connection)
                return connection

            pool._new_conn = tracked  # type: ignore[method-assign]
            pool._tracked = True  # type: ignore[attr-defined]
        return pool


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def outcome_error_code(resource: Mapping[str, Any]) -> str | None:
    """The IssueType of the first error when `resource` is an error OperationOutcome, or a Bundle
    holding only OperationOutcomes of which one reports an error; None otherwise.

    Warning/information outcomes (e.g. "no results") are not failures: they carry no data.
    """
    outcomes = [resource]
    if resource.get("resourceType") == "Bundle":
        inner = [e.get("resource") for e in resource.get("entry") or [] if isinstance(e, dict)]
        if not inner or any(
            not isinstance(r, dict) or r.get("resourceType") != "OperationOutcome" for r in inner
        ):
            return None
        outcomes = [r for r in inner if isinstance(r, dict)]
    for outcome in outcomes:
        if outcome.get("resourceType") != "OperationOutcome":
            return None
        for issue in outcome.get("issue") or []:
            if isinstance(issue, dict) and issue.get("severity") in ("fatal", "error"):
                return issue_type(issue.get("code"))
    return None


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entry resources of a Bundle, without OperationOutcome messages."""
    out: list[dict[str, Any]] = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            out.append(resource)
    return out
