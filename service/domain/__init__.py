"""The relapsed-ALL domain: pure functions from `RelapseInputs` to an `Assessment`.

No Flask, no HTTP, no clock, no I/O here: the caller passes `as_of`.
"""
