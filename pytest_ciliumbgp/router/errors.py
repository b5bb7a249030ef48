"""The one error the router library raises."""

from __future__ import annotations


class RouterError(RuntimeError):
    """The router's output could not be used; the message names the command in one line."""
