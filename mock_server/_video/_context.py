"""What every account's Video state shares with the video service: clock, SIDs, randomness, and the service's hooks.

The hooks keep the domain code free of threads and HTTP: `schedule` asks the service's ticker to look at a
composition at a due time, `encode` hands a composition to the worker pool, `emit` sends a status callback, `discard`
removes a media file off the event loop.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mock_server._clock import Clock
from mock_server._config import LifecycleConfig
from mock_server._model._params import CallbackEvent
from mock_server._sids import SidFactory

if TYPE_CHECKING:
    from mock_server._video._account import VideoAccount
    from mock_server._video._records import CompositionRecord

__all__ = ["Owner", "VideoContext"]


class Owner(Protocol):
    """The account a Video state belongs to (`mock_server._model.Account`): its token signs the callbacks."""

    @property
    def sid(self) -> str: ...
    @property
    def auth_token(self) -> str: ...
    @property
    def lifecycle(self) -> LifecycleConfig: ...


@dataclass
class VideoContext:
    clock: Clock
    sids: Callable[[], SidFactory]  # the registry's (replaced on reset): one seeded stream for every SID
    rng: Callable[[], random.Random]
    schedule: Callable[[float, str, str], None]  # (due, account_sid, composition_sid)
    encode: Callable[[VideoAccount, CompositionRecord], None]
    emit: Callable[[CallbackEvent], None]
    discard: Callable[[str], None]
