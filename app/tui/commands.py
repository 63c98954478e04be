"""The command palette (ctrl+p): the bound actions, found by what they do.

There is no list of commands here: the palette offers the key bindings of the screen
it was opened on (and of the app), then those of the dashboard's home screen when it
was opened elsewhere. Each ``Binding`` brings its title (the tooltip, else the
description), its id and its keys as they stand after the user's keymap; choosing one
runs the binding's action on the node that binds it, as pressing the key would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from textual.app import App
from textual.binding import ActiveBinding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen

from app.tui.base import DashboardScreen


@dataclass(frozen=True)
class BoundCommand:
    """One binding, as the palette shows it."""

    title: str
    """What it does: the binding's tooltip, else its description."""
    help: str
    """Its keys (after the keymap) and its id: ``"n · agent.new"``."""
    action: str
    node: DOMNode
    """Where the action runs (the screen or app that binds it)."""
    home: Screen[object] | None
    """The screen to go back to first, for a home-screen command chosen on another screen."""


def home_screen(app: App[object]) -> Screen[object] | None:
    """The dashboard's home: the first dashboard screen on the stack (the main screen)."""
    return next((s for s in app.screen_stack if isinstance(s, DashboardScreen)), None)


def bound_commands(screen: Screen[object]) -> Iterator[BoundCommand]:
    """The palette's commands for ``screen``: its bindings, then the home screen's (once per id)."""
    app = screen.app
    home = home_screen(app)
    screens = [screen] if home is None or home is screen else [screen, home]
    seen: set[str] = set()
    for source in screens:
        bound: dict[str, tuple[ActiveBinding, list[str]]] = {}
        for active in source.active_bindings.values():
            binding = active.binding
            if not (binding.id and binding.description) or binding.system or binding.id in seen:
                continue
            if not isinstance(active.node, Screen | App):
                continue  # a widget's own keys (cursor movement and the like) are not commands
            bound.setdefault(binding.id, (active, []))[1].append(app.get_key_display(binding))
        for binding_id, (active, keys) in bound.items():
            seen.add(binding_id)
            yield BoundCommand(
                title=active.binding.tooltip or active.binding.description,
                help=f"{' '.join(keys)} · {binding_id}",
                action=active.binding.action,
                node=active.node,
                home=None if source is screen else source,
            )


class BoundActions(Provider):
    """Offers the bound actions (see the module docstring)."""

    async def _run(self, command: BoundCommand) -> None:
        app, home = self.app, command.home
        while home is not None and app.screen is not home and home in app.screen_stack:
            await app.pop_screen()
        await app.run_action(command.action, command.node)

    async def discover(self) -> Hits:
        for command in bound_commands(self.screen):
            yield DiscoveryHit(command.title, partial(self._run, command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in bound_commands(self.screen):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.title), partial(self._run, command), help=command.help
                )
