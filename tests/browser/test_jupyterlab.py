# What this module does: the real-browser end-to-end test. JupyterLab, started by the test on a
# free loopback port with its own home, config, data, runtime and temporary folders, serves a
# notebook that uses the lab mail server; Playwright drives Debian's Chromium (/usr/bin/chromium,
# installed by scripts/install-test-deps) to open it and run every cell, checks that the reply
# badges, the live session transcript and the mailbox rows are on the page as widgets, clicks View
# on row 1 and sees the message, and saves screenshots in test-artifacts/ (jupyterlab-widgets.png
# is the one README shows). Every wait polls against a deadline. A missing browser fails the test.
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import (
    ConsoleMessage,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
WIDGETS_SHOT = ARTIFACTS / "jupyterlab-widgets.png"
MESSAGE_SHOT = ARTIFACTS / "jupyterlab-message.png"
FAILURE_SHOT = ARTIFACTS / "jupyterlab-failure.png"

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking switches Chromium's own background connections are refused here and
# slow it down; the page itself only talks to JupyterLab on loopback.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
MAX_SHOT_HEIGHT = 6000  # pixels: a full-notebook screenshot is taller than the first view

# Deadlines of single steps, generous for a busy machine; a run takes about 30 s in all, and any
# one step running out still leaves time for the diagnostics before pytest's own timeout.
SERVER_START_S = 30.0  # JupyterLab answering /api/status
SERVER_STOP_S = 15.0  # JupyterLab (and its kernels) gone after /api/shutdown
KERNEL_IDLE_S = 30.0  # the notebook's kernel started and idle
POLL_S = 0.25
PAGE_LOAD_MS = 30_000  # the notebook open in the page
RUN_ALL_MS = 30_000  # every cell run and its widget shown
STEP_MS = 15_000  # one click's result on the page
LOG_TAIL = 20_000  # characters of JupyterLab's log shown on failure

NOTEBOOK = "mailmagic-browser-test.ipynb"
SUBJECT = "Hello from the browser test"
BODY = "This message was sent by the browser test."
CELLS = (
    "%load_ext mailmagic\n%maillab start",
    "%smtp open",
    "%%smtp\nHELO browser.test\nMAIL FROM:<me@lab.test>\nRCPT TO:<alice@lab.test>\nDATA\n"
    f"Subject: {SUBJECT}\n\n{BODY}\n.",
    "%pop3 open",
    "%pop3 login alice",
    "%pop3 mailbox",
)
MAILBOX_COLUMNS = 7  # display/mailbox.py COLUMNS: #, UID, size, From, Subject, Date, actions
ROW_BUTTONS = ("View", "Headers", "Delete")
BADGE_COLOURS = {"220": "rgb(26, 127, 55)", "354": "rgb(9, 105, 218)", "+OK": "rgb(26, 127, 55)"}
SIZE = re.compile(r"^\d+(\.\d)? (octets|KiB)$")  # protocol/codes.py human_size
# Only JupyterLab's own news and update checks would reach outside; both are turned off.
USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Every cell in the DOM, so the checks and the screenshots see the whole notebook.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "scrollPastEnd": False},
}
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
# Environment variables that would point JupyterLab at the developer's own folders.
LEAKY_ENV = (
    "JUPYTER_PATH",
    "JUPYTER_CONFIG_PATH",
    "JUPYTERLAB_DIR",
    "JUPYTERLAB_SETTINGS_DIR",
    "JUPYTERLAB_WORKSPACES_DIR",
    "IPYTHONDIR",
)
ALL_CELLS_RAN_JS = """
(count) => {
  const prompts = [...document.querySelectorAll(
    '.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')];
  return prompts.length === count
    && prompts.every((p) => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
}
"""
NOTEBOOK_OVERFLOW_JS = """
() => {
  const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
  return outer ? outer.scrollHeight - outer.clientHeight : 0;
}
"""
NOTEBOOK_FITS_JS = f"(left) => ({NOTEBOOK_OVERFLOW_JS.strip()})() <= left"


@dataclass
class JupyterLab:
    """A JupyterLab server the test started, with its private folders."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    root: Path
    runtime: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}?token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-LOG_TAIL:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def private_folders(tmp: Path) -> dict[str, Path]:
    """Home, Jupyter config/data/runtime, TMPDIR and the notebook root, all under tmp."""
    folders = {name: tmp / name for name in ("home", "config", "data", "runtime", "tmp", "root")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for name, settings in USER_SETTINGS.items():
        path = folders["config"] / "lab" / "user-settings" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(settings))
    labconfig = folders["config"] / "labconfig"
    labconfig.mkdir()
    (labconfig / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    return folders


def write_notebook(root: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(notebook, root / NOTEBOOK)


def own_kernels(runtime: Path) -> list[int]:
    """Kernel processes started by this test's server (their connection file is in runtime)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if str(runtime).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
    return found


def stop(lab: JupyterLab) -> None:
    """Shut the server down cleanly (it stops its kernels); kill what is left, by pid."""
    with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
        lab.api("/api/shutdown", method="POST")
    try:
        lab.process.wait(timeout=SERVER_STOP_S)
    except subprocess.TimeoutExpired:
        os.killpg(lab.process.pid, signal.SIGKILL)
        lab.process.wait()
    for pid in own_kernels(lab.runtime):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start(tmp: Path) -> JupyterLab:
    """JupyterLab on a free loopback port, answering /api/status; fails with its log if not."""
    folders = private_folders(tmp)
    write_notebook(folders["root"])
    env = {key: value for key, value in os.environ.items() if key not in LEAKY_ENV}
    env.update(
        HOME=str(folders["home"]),
        JUPYTER_CONFIG_DIR=str(folders["config"]),
        JUPYTER_DATA_DIR=str(folders["data"]),
        JUPYTER_RUNTIME_DIR=str(folders["runtime"]),
        TMPDIR=str(folders["tmp"]),
    )
    port, token = free_port(), secrets.token_hex(16)
    log = tmp / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folders['root']}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",  # CI runs as root; harmless otherwise
        "--LabApp.extension_manager=readonly",  # no PyPI look-ups from the extension manager
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=folders["root"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = JupyterLab(process, port, token, folders["root"], folders["runtime"], log)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            lab.api("/api/status")
            return lab
        time.sleep(POLL_S)
    stop(lab)
    pytest.fail(f"JupyterLab did not answer on port {port}; its log:\n{lab.log_tail()}")


@contextlib.contextmanager
def running_jupyterlab(tmp: Path) -> Iterator[JupyterLab]:
    lab = start(tmp)
    try:
        yield lab
    finally:
        stop(lab)


def wait_for_idle_kernel(lab: JupyterLab) -> None:
    """The notebook's kernel (started when the page opened it) has started and is idle."""
    deadline = time.monotonic() + KERNEL_IDLE_S
    states: list[str] = []
    while time.monotonic() < deadline:
        sessions = lab.api("/api/sessions")
        states = [s["kernel"]["execution_state"] for s in sessions if s["path"] == NOTEBOOK]
        if states == ["idle"]:
            return
        time.sleep(POLL_S)
    pytest.fail(f"the notebook's kernel is not idle after {KERNEL_IDLE_S} s: {states}")


def shoot(page: Page, path: Path) -> None:
    """A screenshot of the whole notebook: the window grown to fit it, then set back."""
    overflow: int = page.evaluate(NOTEBOOK_OVERFLOW_JS)
    height = min(VIEWPORT["height"] + overflow, MAX_SHOT_HEIGHT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    left = overflow - (height - VIEWPORT["height"]) + 1  # what does not fit, past the cap
    page.wait_for_function(NOTEBOOK_FITS_JS, arg=left, timeout=STEP_MS)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


def badge(page: Page, status: str) -> Locator:
    """A reply badge (display/html.py badge: an inline-styled pill) showing exactly status."""
    pills = page.locator('.jp-NotebookPanel .widget-html span[style*="border-radius:9px"]')
    return pills.filter(has_text=re.compile(rf"^{re.escape(status)}$"))


def open_notebook(page: Page, lab: JupyterLab) -> None:
    """The notebook open with its kernel idle, the file browser folded away for the pictures."""
    page.goto(lab.url(f"/lab/tree/{NOTEBOOK}"), timeout=PAGE_LOAD_MS)
    expect(page.locator(".jp-NotebookPanel .jp-Notebook")).to_be_visible(timeout=PAGE_LOAD_MS)
    wait_for_idle_kernel(lab)
    indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
    expect(indicator).to_have_attribute("data-status", "idle", timeout=STEP_MS)
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    expect(page.locator("#jp-left-stack")).to_be_hidden()


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, then wait until every cell has its execution count."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    page.wait_for_function(ALL_CELLS_RAN_JS, arg=len(CELLS), timeout=RUN_ALL_MS)


def check_widgets(page: Page) -> None:
    """Every cell shows its widget (not the text fallbacks), and what each should hold."""
    cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
    outputs = cells.locator(".jp-OutputArea-output")
    errors = outputs.and_(page.locator("[data-mime-type*='stderr'], [data-mime-type*='error']"))
    expect(errors, "a cell failed or wrote to stderr").to_have_count(0)
    for index, source in enumerate(CELLS):
        widget = cells.nth(index).locator(".jp-OutputArea-output > .jupyter-widgets")
        expect(widget, f"the widget of cell {index + 1}: {source.splitlines()[0]}").to_be_visible(
            timeout=RUN_ALL_MS
        )
    # A kernel-side widget without a front-end view falls back to text/plain or text/html.
    fallbacks = outputs.and_(page.locator(".jp-RenderedText, .jp-RenderedHTML"))
    expect(fallbacks, "an output shown as text, not as a widget").to_have_count(0)
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    for status in ("220", "250", "354", "+OK"):
        expect(badge(page, status).first, f"a {status} reply badge").to_be_visible()
    for status, colour in BADGE_COLOURS.items():  # display/html.py COLOURS, as the page shows it
        expect(badge(page, status).first).to_have_css("background-color", colour)
    transcript = cells.nth(1)  # the live session panel under %smtp open
    for line in (r"C: HELO browser\.test", r"S: 250 ", r"C: RCPT TO:<alice@lab\.test>"):
        expect(transcript.get_by_text(re.compile(line)).first).to_be_visible()


def mailbox_row(grid: Locator, row: int, column: int) -> Locator:
    return grid.locator(":scope > *").nth(row * MAILBOX_COLUMNS + column)


def check_mailbox(grid: Locator) -> None:
    """A header row and one message row: number 1, a size, and the three action buttons."""
    expect(grid.locator(":scope > *")).to_have_count(2 * MAILBOX_COLUMNS)
    expect(mailbox_row(grid, 1, 0)).to_have_text("1")
    expect(mailbox_row(grid, 1, 2)).to_have_text(SIZE)
    actions = mailbox_row(grid, 1, MAILBOX_COLUMNS - 1)
    for label in ROW_BUTTONS:
        expect(actions.get_by_role("button", name=label, exact=True)).to_be_visible()


def check_message(mailbox: Locator) -> None:
    """After View: RETR's reply and the message viewer in the Output under the table."""
    shown = mailbox.locator(".widget-output")
    expect(shown.get_by_text("RETR 1").first).to_be_visible(timeout=STEP_MS)
    viewer = shown.locator(".widget-tab")
    expect(viewer).to_be_visible(timeout=STEP_MS)
    for title in ("Text", "HTML", "Source", "MIME tree"):
        expect(viewer.get_by_role("tab", name=title)).to_be_visible()
    expect(shown.get_by_role("cell", name=SUBJECT, exact=True)).to_be_visible()
    expect(viewer.get_by_text(BODY, exact=True)).to_be_visible()  # the Text tab


def widget_console_errors(messages: list[str]) -> list[str]:
    return [m for m in messages if re.search(r"mailmagic|widget", m, re.IGNORECASE)]


def test_widgets_render_and_work_in_jupyterlab(tmp_path: Path) -> None:
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: run scripts/install-test-deps (it installs Debian's chromium)"
    )
    FAILURE_SHOT.unlink(missing_ok=True)  # only a failing run leaves one
    console: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.append(message.text)

    with running_jupyterlab(tmp_path) as jupyterlab, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        page = browser.new_page(viewport=VIEWPORT)
        page.on("console", record)
        page.on("pageerror", lambda error: console.append(f"page error: {error}"))
        try:
            open_notebook(page, jupyterlab)
            run_all_cells(page)
            check_widgets(page)
            mailbox = page.locator(".jp-NotebookPanel .jp-CodeCell").last
            grid = mailbox.locator(".widget-gridbox")
            check_mailbox(grid)
            shoot(page, WIDGETS_SHOT)
            mailbox_row(grid, 1, MAILBOX_COLUMNS - 1).get_by_role("button", name="View").click()
            check_message(mailbox)
            shoot(page, MESSAGE_SHOT)
        except BaseException:
            with contextlib.suppress(Exception):
                shoot(page, FAILURE_SHOT)
            print(f"JupyterLab's log:\n{jupyterlab.log_tail()}")
            print("console errors:\n" + "\n".join(console))
            raise
        finally:
            browser.close()
    assert not widget_console_errors(console), "\n".join(widget_console_errors(console))
