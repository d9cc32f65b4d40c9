"""The daemon with a source that trickles: fetches run on their own worker, so due digests go
out on time with what is stored, and SIGTERM stops the daemon at once, fetch or no fetch."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.hostile_server import HostileServer
from tests.test_daemon import _wait, make_config, people, start_daemon


def test_a_slow_fetch_holds_back_neither_sends_nor_sigterm(
    real: Path,
    write_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    now = datetime.now(UTC)
    planned_fetch = (now - timedelta(hours=2)).strftime("%H:%M")
    send_at = (now - timedelta(hours=1)).strftime("%H:%M")
    with HostileServer(trickle_every=0.5) as slow:  # one feed byte every 0.5 s: about 2 minutes
        config = make_config(
            write_config,
            real,
            f"""
data_dir: ./data
fetch: {{timeout: 5, retries: 0, request_deadline: 300, source_deadline: 300}}
sources:
  - {{type: feed, name: slow, url: {slow.url}/trickle}}
schedule: {{fetch: [{{name: planned, at: "{planned_fetch}"}}], catch_up_hours: 12}}
subscribers:{people(3, send_at)}
""",
            now,
        )
        daemon = start_daemon(config)
        started = time.monotonic()
        outbox = tmp_path / "data" / "outbox"
        try:
            # The planned fetch has not run: the first send starts it, waits 5 s at most, and
            # all three digests go out with the papers already stored.
            _wait(lambda: len(list(outbox.glob("*.eml"))) == 3, timeout=30)
            sent_after = time.monotonic() - started
            assert slow.hits["/trickle"] == 1  # started once, still trickling
        finally:
            daemon.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            _, log = daemon.communicate(timeout=30)
        stop_took = time.monotonic() - stopped
    assert daemon.returncode == 0, log
    assert sent_after < 25, sent_after
    assert stop_took < 5, stop_took
    assert '"event": "fetch-pending"' in log and '"event": "stop"' in log
