"""Event-time tumbling windows: watermark, lateness, idle close."""

from __future__ import annotations

from detectors.windows import WindowClock


def test_window_closes_when_the_watermark_passes_its_end() -> None:
    c = WindowClock(size=60.0, lateness=10.0)
    assert c.observe(0.0) == 0
    assert c.observe(69.0) == 1
    assert c.due([0, 1]) == []  # watermark 59 < 60
    assert c.observe(70.0) == 1
    assert c.due([0, 1]) == [0]  # watermark 60
    assert c.watermark == 60.0


def test_out_of_order_within_lateness_is_kept_and_after_close_is_counted_late() -> None:
    c = WindowClock(size=60.0, lateness=10.0)
    c.observe(65.0)
    assert c.observe(55.0) == 0  # late but allowed: window 0 still open
    c.observe(75.0)
    assert c.due([0, 1]) == [0]
    assert c.observe(59.0) is None
    assert c.late == 1
    assert c.observe(61.0) == 1  # window 1 is still open


def test_idle_stream_closes_open_windows_by_wall_clock() -> None:
    c = WindowClock(size=60.0, lateness=10.0, idle_timeout=30.0)
    c.observe(5.0)
    assert c.due([0], now=1000.0) == []  # activity since the last call
    assert c.due([0], now=1020.0) == []  # idle for 20 s only
    assert c.due([0], now=1031.0) == [0]
    assert c.watermark >= 60.0
    assert c.observe(30.0) is None  # the idle-closed window does not reopen


def test_close_all_and_negative_times() -> None:
    c = WindowClock(size=60.0)
    assert c.index(-1.0) == -1
    assert c.close_all([3, 1]) == [1, 3]
    assert c.closed_until == 4


def test_a_busy_stream_is_never_idle_though_batches_advance_between_ticks() -> None:
    # a worker calls due() without a clock after every batch and with one every second;
    # a stream fed between every pair of ticks must never be closed by wall clock
    clock = WindowClock(size=60.0, lateness=10.0, idle_timeout=5.0)
    ts = 1000.0
    for second in range(30):
        ts += 1.0
        assert clock.observe(ts) is not None
        assert clock.due([int(ts // 60)]) == []  # the per-batch pass
        assert clock.due([int(ts // 60)], now=float(second)) == []  # the 1 s tick
    assert clock.late == 0


# a checkpointed clock as written before WindowClock had __reduce__ (slots pickled by name):
# changelogs hold these, and both the compiled and the pure build must read them
_OLD_CHECKPOINT = (
    b"\x80\x05\x95\xbe\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x05clock\x94\x8c\x11detectors."
    b"windows\x94\x8c\x0bWindowClock\x94\x93\x94)\x81\x94N}\x94(\x8c\x0b_idle_since\x94N\x8c"
    b"\x05_seen\x94\x88\x8c\x0cclosed_until\x94K\x01\x8c\x0cidle_timeout\x94G@>\x00\x00\x00"
    b"\x00\x00\x00\x8c\x04late\x94K\x00\x8c\x08lateness\x94G@$\x00\x00\x00\x00\x00\x00\x8c"
    b"\x04size\x94G@N\x00\x00\x00\x00\x00\x00\x8c\twatermark\x94G@V\x80\x00\x00\x00\x00\x00u"
    b"\x86\x94bs."
)


def test_pickles_round_trip_and_old_checkpoints_load() -> None:
    import pickle

    c = WindowClock(size=60, lateness=10, idle_timeout=5)  # ints in, floats kept
    c.observe(100.0)
    c.observe(30.0)
    assert c.due([0, 1]) == [0]
    back = pickle.loads(pickle.dumps(c, protocol=pickle.HIGHEST_PROTOCOL))
    fields = ("size", "lateness", "idle_timeout", "watermark", "closed_until", "late", "_seen")
    assert [getattr(back, f) for f in fields] == [getattr(c, f) for f in fields]
    assert back._idle_since is None and back.start(2) == 120.0 and type(back.size) is float

    old = pickle.loads(_OLD_CHECKPOINT)["clock"]
    assert (old.size, old.watermark, old.closed_until, old.late, old._seen) == (
        60.0,
        90.0,
        1,
        0,
        True,
    )
    assert old.observe(30.0) is None and old.observe(400.0) == 6
