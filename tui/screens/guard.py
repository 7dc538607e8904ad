"""A guard for workers that touch widgets after awaiting the node.

A worker may finish after its screen was closed or while the app shuts down; the widgets
it would update are gone by then (``NoMatches``). That is not an error worth a crash
screen: the result has nowhere to go. While the screen is still there, it is a bug and
is raised."""

from __future__ import annotations

import functools
from typing import Any, Awaitable, Callable, TypeVar

from textual.css.query import NoMatches
from textual.dom import DOMNode

T = TypeVar("T")


def when_shown(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T | None]]:
    @functools.wraps(fn)
    async def wrapper(self: DOMNode, *args: Any, **kwargs: Any) -> T | None:
        try:
            return await fn(self, *args, **kwargs)
        except NoMatches:
            if self.is_attached and not self.app._exit and getattr(self.app, "_running", False):
                raise
            return None

    return wrapper
