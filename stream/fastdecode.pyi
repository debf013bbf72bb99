"""Types of the C decode stage (``stream/fastdecode.pyx``)."""

from collections.abc import Callable
from typing import Any, Final

BATCH_FORMAT_VERSION: Final[int]
LIMITS: Final[dict[str, int]]

class RequestParser:
    def __init__(self, reference: Callable[[bytes | None], Any]) -> None: ...
    def __call__(self, raw: bytes | bytearray | memoryview | None) -> Any: ...

def encode_messages(
    messages: list[Any], reference: Callable[[bytes | None], Any], max_events: int
) -> tuple[
    list[tuple[int, bytes]], list[tuple[Any, Any]], list[Any], dict[int, int], tuple[int, int]
]: ...
