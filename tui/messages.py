"""Messages that carry worker results up to the app ("attributes down, messages up")."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from store.views.dashboard import Dashboard
from store.views.symbol import SymbolDetail
from vocab.commands import Command


@dataclass
class DashboardLoaded(Message):
    """A fresh snapshot of everything the dashboard shows (from store.views.dashboard.dashboard)."""

    data: Dashboard
    seq: int  # which load (the app numbers them as it starts them)


@dataclass
class DetailLoaded(Message):
    """A fresh snapshot of one symbol (from store.views.symbol.symbol_detail)."""

    data: SymbolDetail


@dataclass
class CommandQueued(Message):
    """A command row was written to the queue."""

    command_id: int
    command: Command


@dataclass
class CommandRejected(Message):
    """The store refused a command (queue full, bad symbol): shown, nothing written."""

    kind: str
    error: str


@dataclass
class EnqueueCommand(Message):
    """A screen asks for a command to be queued; the app writes the row."""

    command: Command


@dataclass
class OpenSymbol(Message):
    """A screen asks to open one symbol's screen."""

    symbol: str


@dataclass
class DetailWanted(Message):
    """A symbol screen wants its snapshot loaded (the app answers with DetailLoaded)."""

    symbol: str
