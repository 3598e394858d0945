"""The CDS services this application serves: one module each, registered here in order."""

from __future__ import annotations

from service.hooks import patient_view
from service.hooks.base import HookEnv, HookModule

REGISTERED: tuple[HookModule, ...] = (patient_view.HOOK,)

__all__ = ["REGISTERED", "HookEnv", "HookModule"]
