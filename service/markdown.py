"""Untrusted text → inert GitHub-flavoured markdown: the one escaping function of the cards.

Card `detail` is markdown that the EHR renders. Any string that did not come from this code base
(FHIR ids and references, field names in validation messages, OperationOutcome codes, a FHIR
server's Content-Type, anything from the hook request, warnings and failure reasons that quote
them, values read from a resource) must pass through `escape` where it is put into the markdown:

    lines.append(f"- Could not read {label}: {escape(reason)}")

Rules for whoever writes card text:
- Escape at the point of interpolation, once: the result is markdown, so escaping it again shows
  backslashes. Our own constants (rule ids, labels, the disclaimer) are written as markdown and
  are not escaped.
- Never put escaped text inside a code span (`` `…` ``) or a link: backslash escapes do not apply
  there. Code spans are for our own rule ids only.
- The result is one line of inline text: it may go anywhere in a line (table cell, list item,
  sentence) and cannot start a block, a table row, a link, an image, HTML, a code span, emphasis
  or an autolink.
"""

from __future__ import annotations

import unicodedata

# Every ASCII punctuation character may be backslash-escaped in CommonMark; these few are left
# alone because no markdown construct (GFM included) gives them a meaning, to keep text readable.
# A hyphen means something only where a line starts (list item, rule), so only a leading one is.
_PLAIN = frozenset(",;'\"?/%- ")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") - _PLAIN
# GFM links `user@host.tld` from the merged text, escapes or not; a word joiner before `@`
# (invisible) is the only break that keeps the text as it reads.
_WORD_JOINER = "\u2060"
LIMIT = 300


def escape(text: object, limit: int = LIMIT) -> str:
    """`text` (str() of it) as inline markdown that renders as that text and nothing else.

    Control characters become spaces and whitespace runs (newlines, tabs, Unicode line
    separators) one space, so the text stays on its line; text longer than `limit` characters is
    cut with "…" (a 1 MB field name must not make a 1 MB card).
    """
    spaced = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in str(text))
    raw = " ".join(spaced.split())
    if len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    out: list[str] = ["\\"] if raw.startswith("-") else []
    for c in raw:
        if c == "@":
            out.append(_WORD_JOINER)
        if c in _PUNCTUATION:
            out.append("\\")
        out.append(c)
    return "".join(out)
