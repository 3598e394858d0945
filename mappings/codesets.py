"""Code sets as data (fhir-contract.md): loaded once from mappings/codes/*.json, extensible.

A code-set file is `{"sets": {name: [{"system", "code", "status"?, "display"?, "value"?}]},
"gene_markers"?: [{"genes": [...], "marker": ...}], "fusion_markers"?: [{"gene", "partner_not"?,
"marker"}], "gene_aliases"?: {previous symbol: symbol}, "site_synonyms"?: {site: [phrase, ...]}}`
and the word lists of WORD_LISTS (`"frontline_words"?: [...]`, ...). An institution's file in the
same format adds codes (and words) to the defaults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mappings.errors import InvalidCodeSets
from service.domain.inputs import Site

CODES_DIR = Path(__file__).resolve().parent / "codes"
HGNC_SYSTEM = "http://www.genenames.org"
HGNC_ALIAS_SYSTEM = "http://www.genenames.org/geneId"
HGNC_OID_SYSTEM = "urn:oid:2.16.840.1.113883.6.281"
_HGNC_ID = re.compile(r"(?i)(?:hgnc:)?(\d+)")

# The Observation code sets the mapping reads (the CDS Hooks prefetch asks for these).
OBSERVATION_SETS: tuple[str, ...] = (
    "mrd",
    "marrow_blasts",
    "karyotype",
    "immunophenotype",
    "genomic_variant",
    "end_of_frontline_therapy",
    "refractory",
)

# The Observation code sets the order-sign checks read (risk-schemes.md §9; codes/orders.json).
ORDER_OBSERVATION_SETS: tuple[str, ...] = (
    "anc",
    "platelets",
    "body_surface_area",
    "body_height",
    "body_weight",
    "marrow_blasts",
    "reinduction_start",
)

Key = tuple[str, str]

# Lists of words a file may hold (therapy.json: CarePlan titles; sites.json: bodySite text).
WORD_LISTS: tuple[str, ...] = (
    "frontline_words",
    "frontline_phase_words",
    "maintenance_words",
    "relapse_plan_words",
    "reinduction_words",
    "site_negations",
)


def normalise_system(system: str) -> str:
    """Compare systems leniently: case of scheme/host, http vs https, trailing '/'."""
    s = system.strip()
    parts = urlsplit(s)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        path = parts.path.rstrip("/")
        s = urlunsplit(("http", parts.netloc.lower(), path, parts.query, parts.fragment))
    elif parts.scheme:
        s = parts.scheme.lower() + s[len(parts.scheme) :]
    # The HGNC alias system and HGNC's OID name the same gene identifiers.
    return HGNC_SYSTEM if s.lower() in (HGNC_ALIAS_SYSTEM.lower(), HGNC_OID_SYSTEM) else s


@dataclass(frozen=True, slots=True)
class CodeEntry:
    system: str
    code: str
    status: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class CodeSets:
    """Every code set, keyed on (normalised system, code)."""

    sets: Mapping[str, Mapping[Key, CodeEntry]]
    gene_markers: tuple[tuple[frozenset[str], str], ...] = ()
    # (gene, partners that do not count, marker): a fusion of `gene` with any other partner.
    fusion_markers: tuple[tuple[str, frozenset[str], str], ...] = ()
    # Upper-case HGNC symbol (current or previous) -> the gene name the marker rules use.
    gene_symbols: Mapping[str, str] = field(default_factory=dict)
    # Word lists (lower case), see WORD_LISTS.
    frontline_words: tuple[str, ...] = ()
    frontline_phase_words: tuple[str, ...] = ()
    maintenance_words: tuple[str, ...] = ()
    relapse_plan_words: tuple[str, ...] = ()
    reinduction_words: tuple[str, ...] = ()
    site_negations: tuple[str, ...] = ()
    site_synonyms: tuple[tuple[str, str], ...] = ()  # (phrase, site), lower case

    def entry(self, name: str, system: str | None, code: str | None) -> CodeEntry | None:
        """The entry of set `name` for this coding, or None."""
        if not system or not code:
            return None
        return self.sets.get(name, {}).get(_key(system, code))

    def match(self, name: str, codings: Iterable[Mapping[str, Any]]) -> CodeEntry | None:
        """The first coding of `codings` that belongs to set `name`."""
        # A loop of its own, not next(matches(...)): every resource's codes pass here.
        for coding in codings:
            found = self.entry(name, _str(coding.get("system")), _str(coding.get("code")))
            if found is not None:
                return found
        return None

    def matches(self, name: str, codings: Iterable[Mapping[str, Any]]) -> Iterator[CodeEntry]:
        """The entries of set `name` of every coding of `codings` that belongs to it."""
        for coding in codings:
            found = self.entry(name, _str(coding.get("system")), _str(coding.get("code")))
            if found is not None:
                yield found

    def first_set(self, names: Iterable[str], codings: Iterable[Mapping[str, Any]]) -> str | None:
        """The first of sets `names` that a coding of `codings` belongs to (each coding's key is
        computed once, however many sets are asked)."""
        keys = coding_keys(codings)
        if keys:
            sets = self.sets
            for name in names:
                members = sets.get(name)
                if members and not members.keys().isdisjoint(keys):
                    return name
        return None

    def union(self, names: Iterable[str]) -> frozenset[Key]:
        """The keys of every code of the sets `names` (with `coding_keys`: whether a resource
        could belong to any of them, in one lookup)."""
        return frozenset(k for name in names for k in self.sets.get(name, {}))

    def gene(self, coding: Mapping[str, Any]) -> str | None:
        """The gene an HGNC coding names (by id or symbol): the name the marker rules use when
        we know the gene, else its HGNC id or upper-case symbol; None for any other system."""
        system = _str(coding.get("system"))
        if system is None or normalise_system(system) != HGNC_SYSTEM:
            return None
        code = (_str(coding.get("code")) or _str(coding.get("display")) or "").strip()
        if not code:
            return None
        key = _key(system, code)
        entry = self.sets.get("gene", {}).get(key)
        if entry is not None and entry.value:
            return entry.value
        return self.gene_symbols.get(key[1], key[1])

    def observation_codes(
        self, names: tuple[str, ...] = OBSERVATION_SETS
    ) -> tuple[tuple[str, str], ...]:
        """(system, code) of every code of the sets `names` (by default every Observation code
        the risk assessment reads), as written in the code-set files."""
        seen: dict[Key, tuple[str, str]] = {}
        for name in names:
            for key, e in self.sets.get(name, {}).items():
                seen.setdefault(key, (e.system, e.code))
        return tuple(sorted(seen.values()))


def coding_keys(codings: Iterable[Mapping[str, Any]]) -> list[Key]:
    """The set-lookup key of each coding with a system and a code."""
    keys = []
    for coding in codings:
        system, code = coding.get("system"), coding.get("code")
        if isinstance(system, str) and isinstance(code, str) and system and code:
            keys.append(_key(system, code))
    return keys


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


# Each coding of each resource is looked up here, in several sets: cached, since normalising a
# system (urlsplit) costs far more than the lookup itself.
@lru_cache(maxsize=8192)
def _key(system: str, code: str) -> Key:
    code = code.strip()
    norm = normalise_system(system)
    if norm == HGNC_SYSTEM:
        # "HGNC:1014", "hgnc:1014" and the alias's bare "1014" are one gene; a symbol ("BCR")
        # is matched without case.
        m = _HGNC_ID.fullmatch(code)
        code = f"HGNC:{m[1]}" if m else code.upper()
    return norm, code


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidCodeSets(f"{path.name}: cannot read code sets ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sets", {}), dict):
        raise InvalidCodeSets(f"{path.name}: expected an object with a 'sets' object")
    return data


def _merge(
    path: Path,
    data: Mapping[str, Any],
    *,
    sets: dict[str, dict[Key, CodeEntry]],
    markers: list[tuple[frozenset[str], str]],
    fusions: list[tuple[str, frozenset[str], str]],
    symbols: dict[str, str],
    words: dict[str, list[str]],
    synonyms: list[tuple[str, str]],
) -> None:
    for name, entries in data.get("sets", {}).items():
        if not isinstance(entries, list):
            raise InvalidCodeSets(f"{path.name}: set {name!r} must be a list")
        target = sets.setdefault(str(name), {})
        for e in entries:
            if not (isinstance(e, dict) and isinstance(e.get("system"), str)):
                raise InvalidCodeSets(f"{path.name}: set {name!r} has an entry without system")
            if not isinstance(e.get("code"), str):
                raise InvalidCodeSets(f"{path.name}: set {name!r} has an entry without code")
            entry = CodeEntry(e["system"], e["code"], e.get("status"), e.get("value"))
            target[_key(entry.system, entry.code)] = entry
            if name == "gene" and entry.value:
                symbols[entry.value.upper()] = entry.value
    for rule in data.get("gene_markers", []):
        markers.append((frozenset(str(g) for g in rule["genes"]), str(rule["marker"])))
    for rule in data.get("fusion_markers", []):
        if not (isinstance(rule, dict) and isinstance(rule.get("gene"), str)):
            raise InvalidCodeSets(f"{path.name}: a fusion_markers rule without gene")
        partners = frozenset(str(g) for g in rule.get("partner_not", []))
        fusions.append((rule["gene"], partners, str(rule["marker"])))
    aliases = data.get("gene_aliases", {})
    if not isinstance(aliases, dict):
        raise InvalidCodeSets(f"{path.name}: gene_aliases must map a symbol to a symbol")
    symbols.update({str(old).upper(): str(new) for old, new in aliases.items()})
    for name in WORD_LISTS:
        found = data.get(name, [])
        if not isinstance(found, list):
            raise InvalidCodeSets(f"{path.name}: {name} must be a list")
        words.setdefault(name, []).extend(str(w).lower() for w in found)
    site_synonyms = data.get("site_synonyms", {})
    if not isinstance(site_synonyms, dict) or not all(
        isinstance(v, list) for v in site_synonyms.values()
    ):
        raise InvalidCodeSets(f"{path.name}: site_synonyms must map a site to a list of phrases")
    unknown = set(site_synonyms) - {s.value for s in Site}
    if unknown:
        raise InvalidCodeSets(f"{path.name}: site_synonyms names unknown sites {sorted(unknown)}")
    synonyms.extend((str(w).lower(), str(site)) for site, ws in site_synonyms.items() for w in ws)


def load_codesets(extra: Path | None = None) -> CodeSets:
    """The default code sets, plus the codes of an institution's file `extra` when given."""
    sets: dict[str, dict[Key, CodeEntry]] = {}
    markers: list[tuple[frozenset[str], str]] = []
    fusions: list[tuple[str, frozenset[str], str]] = []
    symbols: dict[str, str] = {}
    words: dict[str, list[str]] = {}
    synonyms: list[tuple[str, str]] = []
    paths = sorted(CODES_DIR.glob("*.json"))
    if extra is not None:
        paths.append(extra)
    for path in paths:
        _merge(
            path,
            _read(path),
            sets=sets,
            markers=markers,
            fusions=fusions,
            symbols=symbols,
            words=words,
            synonyms=synonyms,
        )
    return CodeSets(
        sets=sets,
        gene_markers=tuple(dict.fromkeys(markers)),
        fusion_markers=tuple(dict.fromkeys(fusions)),
        gene_symbols=symbols,
        site_synonyms=tuple(dict.fromkeys(synonyms)),
        **{name: tuple(dict.fromkeys(words.get(name, []))) for name in WORD_LISTS},
    )
