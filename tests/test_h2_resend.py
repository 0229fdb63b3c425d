"""pyqwest._h2.resend.ResendTarget, the rule both drivers use to place a request's one resend
(API.md §0): a connection begun after the failed one stopped taking streams, and, when that one
was ended after N processed streams, one whose next stream comes before N."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pyqwest._h2.resend import ResendTarget


@dataclass
class Conn:
    serial: int
    opened: int = 0
    slots: list[object] = field(default_factory=list)


@pytest.mark.parametrize(
    ("conn", "fits"),
    [
        (Conn(serial=5), False),  # begun before the failed one retired (serial 5)
        (Conn(serial=6), True),
        (Conn(serial=6, opened=49), True),  # its next stream is the 50th
        (Conn(serial=6, opened=50), False),  # as far into the limit as the failed one was cut
        (Conn(serial=6, opened=40, slots=[object()] * 10), False),  # waiters come first
    ],
)
def test_a_resend_after_a_rotation(conn: Conn, fits: bool) -> None:
    assert ResendTarget(after=5, limit=50).fits(conn) is fits


def test_without_a_processed_count_only_the_connect_order_counts() -> None:
    """REFUSED_STREAM, or a GOAWAY that processed nothing: no limit to keep below."""
    assert ResendTarget(after=5).fits(Conn(serial=6, opened=10_000))


@pytest.mark.parametrize(
    ("processed", "opened", "limit"),
    [
        (50, 58, 50),  # a rotation: 50 processed, 8 refused
        (1, 3, None),  # one processed, two refused: no count worth keeping below
        (None, 3, None),  # REFUSED_STREAM: nothing said of a count
    ],
)
def test_the_count_kept_below_after_a_failure(
    processed: int | None, opened: int, limit: int | None
) -> None:
    assert ResendTarget.after_failure(5, processed, opened).limit == limit
