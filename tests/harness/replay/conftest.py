from tests.harness.replay.support import mock

__all__ = ["mock"]
