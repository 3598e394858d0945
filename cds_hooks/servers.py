"""Which FHIR servers a hook call may name: an allowlist of server bases that denies the rest.

The service sends the EHR's bearer token to `fhirServer`, so an unlisted server is never
contacted (a request could otherwise point the service, token and all, at any address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_base(url: str) -> str | None:
    """`scheme://host[:port]/path`: scheme and host in lower case, no default port, no trailing
    "/"; None when `url` is not a plain http(s) base (no host, user info, query or fragment)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number or out of range
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return None
    if ":" in host:  # IPv6: urlsplit drops the brackets
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`, in lower case: what two URLs must share to be one origin."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def is_loopback(url: str) -> bool:
    """True for `localhost` and canonical loopback addresses (127.x.y.z, [::1]) only; other
    spellings (2130706433, 0x7f.1, 127.1) are not recognised, so they are denied."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FhirServers:
    """Normalised FHIR server bases; `any_loopback` also admits every loopback base."""

    bases: frozenset[str] = frozenset()
    any_loopback: bool = False

    @classmethod
    def of(cls, urls: Iterable[str], where: str) -> FhirServers:
        """The bases in `urls`; ValueError naming `where` for one that is not a plain base."""
        bases = set()
        for url in urls:
            base = normalise_base(url) if isinstance(url, str) else None
            if base is None:
                raise ValueError(f"{where}: {url!r} is not an http(s) FHIR base URL")
            bases.add(base)
        return cls(frozenset(bases))

    def allows(self, url: str) -> bool:
        base = normalise_base(url)
        if base is None:
            return False
        return base in self.bases or (self.any_loopback and is_loopback(base))


NONE = FhirServers()
# With authentication off and nothing configured: local FHIR servers only.
LOOPBACK = FhirServers(any_loopback=True)
