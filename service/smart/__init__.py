"""The SMART on FHIR app: launch, authorization, and the full assessment page."""

from service.smart.blueprint import create_smart_blueprint
from service.smart.config import SmartConfig

__all__ = ["SmartConfig", "create_smart_blueprint"]
