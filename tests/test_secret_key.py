"""The key that signs every link, generated into data_dir/secret_key: a full disk on the first
run never leaves an empty key behind, and an empty one left by an older version is replaced."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from digest.config import parse_config
from digest.errors import ConfigError
from digest.mail.tokens import load_secret_key

# The first run, on a disk with no room left: RLIMIT_FSIZE 0 makes every write fail as a full
# disk does (EFBIG instead of ENOSPC), while files can still be created empty.
FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from digest.config import parse_config
from digest.errors import ConfigError
from digest.mail.tokens import load_secret_key
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
try:
    load_secret_key(parse_config("data_dir: ./data\\n", base_dir=Path(sys.argv[1])))
except ConfigError as e:
    print(e)
    sys.exit(1)
"""


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_SECRET_KEY", raising=False)


def test_a_full_disk_leaves_no_empty_key_and_the_next_run_works(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DIGEST_SECRET_KEY"}
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith(f"cannot create the secret key file {tmp_path}/data/secret_key")
    assert "free some disk space" in done.stdout
    assert [p.name for p in (tmp_path / "data").iterdir()] == []  # no key, no temporary file

    config = parse_config("data_dir: ./data\n", base_dir=tmp_path)
    key = load_secret_key(config)  # space freed: the next run makes the key
    assert len(key) >= 32 and load_secret_key(config) == key
    assert stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode) == 0o600


def test_an_empty_key_file_is_replaced_and_a_short_one_says_how_to_fix_it(tmp_path: Path) -> None:
    config = parse_config("data_dir: ./data\n", base_dir=tmp_path)
    key_file = tmp_path / "data" / "secret_key"
    key_file.parent.mkdir()
    key_file.write_text("")  # what a full disk left with earlier versions
    key = load_secret_key(config)
    assert len(key) >= 32 and key_file.read_text().strip() == key

    key_file.write_text("short\n")
    with pytest.raises(ConfigError, match="shorter than 16 characters: delete the file"):
        load_secret_key(config)
