"""sfd.py: run `stateflowd --local` for the daemon's tests (test_stateflowd.py).

Daemon starts it on free ports (port 0 everywhere; the ports are read back
from the coordinator's log lines), waits until the coordinator reports it is
ready, and always stops it (SIGTERM, then SIGKILL) -- use it as a context
manager.  Standard library only.
"""

import os
import re
import signal
import subprocess
import threading
import time

LISTENING = re.compile(r"coordinator listening: cluster=[^ ]*:(\d+) http=(?:off|[^ ]*:(\d+)) "
                       r"native=(?:off|[^ ]*:(\d+))")
READY = re.compile(r"coordinator ready: ")
SANITIZER = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|runtime error: "
                       r"|worker process \d+ \(#\d+\) exited \(status [1-9]")


class DaemonError(Exception):
    pass


def is_worker(pid):
    """pid is a live stateflowd worker process (not a zombie, not reused)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read()
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return b"stateflowd" in cmd and b"--worker" in cmd and state != "Z"


class Daemon:
    def __init__(self, exe, sfir, data_dir, workers=2, extra=(), timeout=30.0, native=True):
        self.lines = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.cluster_port = self.http_port = self.native_port = None
        cmd = [exe, "--local", sfir, "--workers", str(workers), "--http", "127.0.0.1:0",
               "--native", "127.0.0.1:0" if native else "off", "--data", data_dir] + list(extra)
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(timeout) or self.p.poll() is not None:
            self.stop()
            raise DaemonError("stateflowd did not become ready:\n" + self.log_text())
        with open(os.path.join(data_dir, "cluster.token"), "rb") as f:
            self.token = f.read()

    def _read(self):
        for raw in self.p.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.lines.append(line)
            m = LISTENING.search(line)
            if m:
                self.cluster_port = int(m.group(1))
                self.http_port = int(m.group(2)) if m.group(2) else None
                self.native_port = int(m.group(3)) if m.group(3) else None
            if READY.search(line):
                self.ready.set()
        self.ready.set()

    def log_text(self, n=40):
        with self.lock:
            return "\n".join("    " + ln for ln in self.lines[-n:])

    def log_has(self, pattern, timeout=5.0):
        """Wait until a log line matches pattern (a regex)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(rx.search(ln) for ln in self.lines):
                    return True
            time.sleep(0.05)
        return False

    def problems(self):
        """Log lines that show a sanitizer report or a worker that failed."""
        with self.lock:
            return [ln for ln in self.lines if SANITIZER.search(ln)]

    def worker_pids(self):
        path = "/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)
        try:
            with open(path) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit status, or None when it had to
        be killed."""
        pids = self.worker_pids()
        status = None
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                status = self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        else:
            status = self.p.returncode
        # the workers go with the coordinator; make sure of it
        deadline = time.monotonic() + 5
        for pid in pids:
            while time.monotonic() < deadline and is_worker(pid):
                time.sleep(0.05)
            if is_worker(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.reader.join(5)
        self.p.stderr.close()
        return status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.stop()
