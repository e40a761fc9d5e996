"""Where the SDK's host calls go.

Inside a component, ``current`` is :class:`wapr_actor._wit.WitHost`: the
``wapr:actor@0.2.1`` imports. Natively (unit tests), there is no host until
:mod:`wapr_actor.testing` installs its mock; until then every host call
raises ``RuntimeError``.
"""

from __future__ import annotations

from typing import Any


class _NoHost:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            f"wapr_actor: no host for `{name}` outside a component; "
            "use wapr_actor.testing (TestActor) to run an actor natively"
        )


def _detect() -> Any:
    try:
        import componentize_py_runtime  # noqa: F401  (exists only inside a component)
    except ImportError:
        return _NoHost()
    from ._wit import WitHost

    return WitHost()


current: Any = _detect()


def install(host: Any) -> Any:
    """Replaces the host (the testing mock does this); returns the previous one."""
    global current
    previous, current = current, host
    return previous
