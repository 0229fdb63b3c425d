"""set_sync_timeout / get_sync_timeout (spec §2): a context-variable deadline."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from pyqwest._pyqwest import get_sync_timeout, set_sync_timeout


def test_remaining_time_shrinks_and_is_unset_outside():
    assert get_sync_timeout() is None
    with set_sync_timeout(5.0):
        first = get_sync_timeout()
        assert first is not None
        assert 4.0 < first.total_seconds() <= 5.0
        time.sleep(0.05)
        second = get_sync_timeout()
        assert second is not None
        assert second < first
    assert get_sync_timeout() is None


def test_expired_deadline_is_zero():
    with set_sync_timeout(0.0001):
        time.sleep(0.01)
        remaining = get_sync_timeout()
        assert remaining is not None
        assert remaining.total_seconds() == 0.0


def test_nested_deadline_is_restored_on_exit():
    with set_sync_timeout(100.0):
        with set_sync_timeout(1.0):
            inner = get_sync_timeout()
            assert inner is not None
            assert inner.total_seconds() <= 1.0
        outer = get_sync_timeout()
        assert outer is not None
        assert outer.total_seconds() > 50


def test_deadline_is_per_thread_context():
    seen: list[object] = []
    with set_sync_timeout(5.0):
        t = threading.Thread(target=lambda: seen.append(get_sync_timeout()))
        t.start()
        t.join()
        # a copied context carries it
        copied = contextvars.copy_context().run(get_sync_timeout)
    assert seen == [None]
    assert copied is not None


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan")])
def test_invalid_timeout_is_rejected(bad):
    with pytest.raises(ValueError, match="Timeout must be non-negative"), set_sync_timeout(bad):
        pass
