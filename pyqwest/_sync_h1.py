"""The sync transport's HTTP/1.1 connection: the compiled blocking driver (cpqwest._blocking),
which drives the same H1Core (parser, phase, reuse decision, error choice) as the asyncio
protocol."""

from __future__ import annotations

from cpqwest._blocking import BlockingH1 as SyncH1Connection
from cpqwest._blocking import close_body

__all__ = ["SyncH1Connection", "close_body"]
