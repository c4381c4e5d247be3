"""lab.postgres() and lab.valkey(): real servers from wheels, never left running.

A kernel killed outright runs no clean-up code; these tests kill the process that started
the servers with SIGKILL and look for what it left behind.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import psutil
import pytest
from sqlalchemy.engine import make_url

from workshop_lab import servers

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")

STARTER = """
import sys, time
from workshop_lab import servers
with servers.postgres_server() as pg, servers.valkey() as valkey:
    print(pg, valkey, flush=True)
    time.sleep(120)
"""


def server_processes(folder: Path) -> list[psutil.Process]:
    """The processes whose command line names ``folder`` (a server keeps its files there)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and any(
                str(folder) in part for part in process.cmdline()
            ):
                found.append(process)
        except psutil.Error:  # ended meanwhile, or not ours to read
            continue
    return found


def test_servers_of_a_killed_process_are_stopped_and_their_folders_removed(monkeypatch):
    for name in (servers.POSTGRES_URL_VARIABLE, servers.VALKEY_URL_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    owner = subprocess.Popen(
        [sys.executable, "-c", STARTER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            key: value for key, value in os.environ.items() if not key.startswith("WORKSHOP_TEST_")
        },
    )
    try:
        line = owner.stdout.readline()
        assert line, owner.stderr.read()
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        owner.stdout.close()
        owner.stderr.close()
    pg_url, valkey_url = line.split()
    folders = [
        Path(make_url(pg_url).query["host"]).parent,  # its socket is in <folder>/data
        Path(valkey_url.removeprefix("unix://")).parent,
    ]
    assert all(folder.name.startswith("workshop-") for folder in folders), folders
    assert all(server_processes(folder) for folder in folders), "the servers were running"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not any(folder.exists() or server_processes(folder) for folder in folders):
            break
        time.sleep(0.5)
    left = {str(folder): folder.exists() for folder in folders}
    running = [p.pid for folder in folders for p in server_processes(folder)]
    assert not any(left.values()) and not running, (left, running)


def test_a_block_that_ends_stops_its_servers_and_its_watchdogs(monkeypatch):
    for name in (servers.POSTGRES_URL_VARIABLE, servers.VALKEY_URL_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    me = psutil.Process()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with servers.valkey() as url:
            folder = Path(url.removeprefix("unix://")).parent
            assert server_processes(folder)
        gc.collect()  # a watchdog's Popen dropped while it runs warns when it is collected
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    deadline = time.monotonic() + 10
    while server_processes(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists() and not server_processes(folder)
    watchdogs = [
        child
        for child in me.children(recursive=True)
        if child.status() != psutil.STATUS_ZOMBIE
        and "psutil.Process(int(sys.argv[1]))" in " ".join(child.cmdline())
    ]
    assert not watchdogs, "a watchdog outlived the server it watched"
