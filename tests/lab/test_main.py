# What this module does: tests of the command line (`python -m mailmagic.lab`, mailmagic/lab/
# __main__.py) as a script would use it, in a real subprocess: one JSON line once listening, clean
# shutdown on SIGTERM and Ctrl-C, clear errors for bad options (user names that are paths too,
# with no traceback and nothing created); crash safety: the server killed with SIGKILL in the
# middle of DATA and right after 250 loses no accepted message and leaves no half-written one in
# new/; and the lab runs in a process where IPython, ipywidgets and traitlets cannot be imported.
# With --replay it serves a cassette instead (its endpoint as JSON), or says what is wrong with it.
from __future__ import annotations

import poplib
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailmagic.lab.__main__ import main
from tests.lab.process import LabProcess


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[LabProcess]:
    server = LabProcess("--maildir", str(tmp_path / "store"))
    yield server
    server.kill()


def test_json_line_gives_every_endpoint(cli: LabProcess, tmp_path: Path) -> None:
    info = cli.info
    assert info["host"] == "127.0.0.1"
    assert info["maildir"] == str(tmp_path / "store")
    assert Path(info["ca_file"]).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    for name in ("smtp", "submission", "pop3"):
        with socket.create_connection(("127.0.0.1", info[f"{name}_port"]), timeout=5) as sock:
            assert sock.recv(3) in (b"220", b"+OK")
    assert isinstance(info["smtps_port"], int) and isinstance(info["pop3s_port"], int)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_it_cleanly_with_nothing_more_printed(cli: LabProcess, signum: int) -> None:
    code, rest, _ = cli.stop(signum)
    assert (code, rest) == (0, b"")


def test_users_aliases_domain_and_fixed_port(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = LabProcess(
        "--smtp-port",
        str(port),
        "--domain",
        "school.test",
        "--max-message-size",
        "5000",
        "--user",
        "carol:secret",
        "--user",
        "dave:hunter2",
        "--alias",
        "class:carol,dave",
        "--maildir",
        str(tmp_path),
    )
    try:
        assert server.info["smtp_port"] == port
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            assert (
                smtp.sendmail("t@school.test", ["class@school.test"], b"Subject: hw\r\n\r\n") == {}
            )
            assert smtp.verify("alice")[0] == 550
            smtp.ehlo("c")
            assert smtp.esmtp_features["size"] == "5000"
        client = poplib.POP3("127.0.0.1", server.info["pop3_port"])
        client.user("dave")
        client.pass_("hunter2")
        assert client.stat()[0] == 1
        client.quit()
    finally:
        assert server.stop()[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nopassword"], "expected NAME:PASSWORD"),
        (["--smtp-port", "99999"], "a port is a number from 0 to 65535"),
        (["--alias", "x:zed"], "not a lab user"),
        (["--host", "0.0.0.0"], "loopback only"),
        (["--max-message-size", "0"], "a whole number of 1 or more"),
        (["--user", "../../escaped-user:pw"], "user name '../../escaped-user' is not allowed"),
        (["--alias", "../list:alice"], "alias name '../list' is not allowed"),
    ],
)
def test_bad_options_say_what_is_wrong(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_user_name_that_is_a_path_stops_the_cli_with_a_clear_error(tmp_path: Path) -> None:
    store = tmp_path / "a" / "b" / "store"
    args = ["--user", "../../escaped-user:pw", "--maildir", str(store)]
    done = subprocess.run(
        [sys.executable, "-m", "mailmagic.lab", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "error: user name '../../escaped-user' is not allowed" in done.stderr
    assert "choose another name" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no store, and nothing outside it


def _smtp_until_data(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice@lab.test>\r\nDATA\r\n")
    received = b""
    while received.count(b"\r\n") < 5:
        received += sock.recv(4096)
    assert received.split(b"\r\n")[4].startswith(b"354")
    return sock


def _send_whole(port: int, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("a@b.c", ["alice@lab.test"], f"Subject: {subject}\r\n\r\nall of it\r\n")


def test_sigkill_mid_data_and_after_250_loses_nothing_accepted(tmp_path: Path) -> None:
    store = tmp_path / "store"
    server = LabProcess("--maildir", str(store))
    port = server.info["smtp_port"]
    for n in range(3):
        _send_whole(port, f"accepted {n}")
    half = _smtp_until_data(port)
    half.sendall(b"Subject: never finished\r\n\r\nfirst half of the body\r\n")
    server.stop(signal.SIGKILL)
    half.close()
    server = LabProcess("--maildir", str(store))
    try:
        _send_whole(server.info["smtp_port"], "accepted 3")
        last = _smtp_until_data(server.info["smtp_port"])
        last.sendall(b"Subject: accepted 4\r\n\r\nall of it\r\n.\r\n")
        assert last.recv(4096).startswith(b"250 2.6.0")
        server.stop(signal.SIGKILL)  # right after the 250 reply
        last.close()
    finally:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)
    new = sorted((store / "alice" / "new").iterdir())
    subjects = sorted(p.read_bytes().split(b"Subject: ")[1].split(b"\n")[0] for p in new)
    assert subjects == [f"accepted {n}".encode() for n in range(5)]
    assert all(p.read_bytes().endswith(b"\n\nall of it\n") for p in new)


_WITHOUT_IPYTHON = """
import importlib.abc, poplib, sys, tempfile
from pathlib import Path

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("IPython", "ipywidgets", "ipykernel", "traitlets"):
            raise ImportError(f"{name} is refused in this test")
        return None

sys.meta_path.insert(0, Refuse())
import mailmagic.lab.__main__
from mailmagic.lab import LabConfig, LabServer

with tempfile.TemporaryDirectory() as store:
    lab = LabServer(LabConfig(maildir=Path(store)))
    lab.start()
    try:
        print(poplib.POP3("127.0.0.1", lab.endpoints.pop3, timeout=10).getwelcome()[:3])
    finally:
        lab.stop()
"""


def test_the_lab_runs_without_ipython() -> None:
    # mailmagic/__init__.py imports the magics only when the extension is loaded.
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_IPYTHON], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "b'+OK'"


def test_replay_prints_its_endpoint_and_serves_the_cassette(tmp_path: Path) -> None:
    server = LabProcess("--replay", "exchange2003-pop3")
    try:
        info = server.info
        assert (info["host"], info["protocol"], info["timing"]) == ("127.0.0.1", "pop3", False)
        client = poplib.POP3(info["host"], info["port"], timeout=30)
        assert client.getwelcome() == b"+OK Hello there."
        assert client.user("me@mydomain.com") == b"+OK Password required."
        assert client.pass_("any") == b"+OK User successfully logged on."
        assert client.quit().endswith(b"signing off.")
        assert server.stop()[:2] == (0, b"")
    finally:
        server.kill()


def test_replay_of_a_damaged_cassette_says_where_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"mailmagic-cassette": 9}\n')
    done = subprocess.run(
        [sys.executable, "-m", "mailmagic.lab", "--replay", str(path), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert f"{path}, line 1: cassette format version 9 is unknown" in done.stderr
    assert "Traceback" not in done.stderr
