"""The CDS services this application serves: one module each, registered here in order."""

from __future__ import annotations

from service.hooks import idarubicin_order_sign, patient_view
from service.hooks.base import HookEnv, HookModule

REGISTERED: tuple[HookModule, ...] = (patient_view.HOOK, idarubicin_order_sign.HOOK)

__all__ = ["REGISTERED", "HookEnv", "HookModule"]
