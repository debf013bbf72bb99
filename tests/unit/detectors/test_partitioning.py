"""Kafka's murmur2 partitioner, checked against the Java client's test vectors."""

from __future__ import annotations

import pytest

from detectors.partitioning import murmur2, partition_for


@pytest.mark.parametrize(
    ("data", "expected"),
    [  # org.apache.kafka.common.utils.UtilsTest#testMurmur2
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
        (bytes([12, 42, 56, 24, 109, 111]), 274204207),
    ],
)
def test_murmur2_matches_the_java_client(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


def test_partition_is_the_positive_hash_modulo_partitions() -> None:
    # -790332482 & 0x7fffffff = 1357151166; 1357151166 % 6 = 0, % 7 = 4
    assert partition_for("foobar", 6) == 1357151166 % 6
    assert partition_for(b"foobar", 7) == 1357151166 % 7
    assert all(0 <= partition_for(f"u{i}", 12) < 12 for i in range(200))
    assert len({partition_for(f"u{i}", 4) for i in range(200)}) == 4


def test_partitions_must_be_positive() -> None:
    with pytest.raises(ValueError, match="partitions must be >= 1, got 0"):
        partition_for("a", 0)
