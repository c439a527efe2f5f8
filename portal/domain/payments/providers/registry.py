"""Which provider runs: a name from the settings (or a brand) mapped to a factory.

Adding a provider: write `providers/<name>.py` with a class that satisfies `base.Provider`
and a `@register("<name>")` factory taking the settings, and add the name to
`config.PAYMENT_PROVIDERS` and to `_MODULES` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from portal.config import Settings
from portal.domain.payments.providers.base import Provider

Factory = Callable[[Settings], Provider]
_FACTORIES: dict[str, Factory] = {}
_MODULES = {
    "sandbox": "portal.domain.payments.providers.sandbox",
    "mollie": "portal.domain.payments.providers.mollie",
    "stripe": "portal.domain.payments.providers.stripe",
}


def register(name: str) -> Callable[[Factory], Factory]:
    """Class or function decorator: `name` is built by calling the factory with settings."""

    def decorate(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        return factory

    return decorate


def get(name: str, settings: Settings) -> Provider:
    """The provider called `name`, configured from `settings`; KeyError when unknown."""
    if name not in _FACTORIES and name in _MODULES:
        importlib.import_module(_MODULES[name])  # registers itself on import
    if name == "sandbox" and settings.is_production:
        raise KeyError("the sandbox provider never runs in production")
    return _FACTORIES[name](settings)


def names() -> tuple[str, ...]:
    """Every provider this build knows."""
    return tuple(_MODULES)
