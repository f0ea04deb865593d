"""Actions: named Python callables a flow step runs; they return a status to branch on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from flows.engine import ActionContext

Action = Callable[["ActionContext"], str | None]


class ActionRegistry:
    """Actions by name; flows refer to them by that name and are checked against it."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, name: str) -> Callable[[Action], Action]:
        def decorate(fn: Action) -> Action:
            if name in self._actions:
                raise ValueError(f"action '{name}' is registered twice")
            self._actions[name] = fn
            return fn

        return decorate

    def __contains__(self, name: str) -> bool:
        return name in self._actions

    def __getitem__(self, name: str) -> Action:
        return self._actions[name]

    def names(self) -> list[str]:
        return sorted(self._actions)
