"""Ctrl-C and SIGTERM are held while a result is delivered, and raise at once otherwise."""
import os
import signal

import pytest

from app.cli import Terminated, _on_sigterm
from app.interrupts import HeldSignals


@pytest.fixture
def sigterm_raises():
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_a_signal_inside_held_takes_effect_when_it_ends(sigterm_raises):
    steps = []
    with HeldSignals() as signals:
        with pytest.raises(KeyboardInterrupt):
            with signals.held():
                os.kill(os.getpid(), signal.SIGINT)
                steps.append("after the signal")
                os.kill(os.getpid(), signal.SIGTERM)  # a second one while held is dropped: the first wins
                steps.append("still delivering")
        with pytest.raises(Terminated):
            with signals.held():
                os.kill(os.getpid(), signal.SIGTERM)
    assert steps == ["after the signal", "still delivering"]


def test_outside_held_a_signal_raises_at_once_and_handlers_come_back(sigterm_raises):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with HeldSignals():
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("SIGTERM should have raised before this line")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
