"""Run locks: two study processes on the same work root never train the same run twice.

A process takes ``<run>/.lock`` (created exclusively) before it trains a run, writes its holder
(``host:pid``) into it and touches it every :data:`HEARTBEAT` seconds while the run goes on. A
second process that finds the lock skips the run, unless the holder is dead: on the same host a
process id that no longer exists, on any host a lock not touched for :data:`STALE` seconds --
then it takes the lock over.
"""
import os
import os.path as osp
import socket
import threading
import time
from typing import Dict, Optional

LOCK = '.lock'
HEARTBEAT = 30.0
STALE = 300.0


def holder_id() -> str:
    return f'{socket.gethostname()}:{os.getpid()}'


def _alive(holder: str) -> bool:
    """Whether ``host:pid`` may still run (only checkable on this host)."""
    host, _, pid = holder.rpartition(':')
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(work_dir: str) -> Optional[str]:
    """The live holder of ``work_dir``'s lock, or None if it is free or stale."""
    path = osp.join(work_dir, LOCK)
    try:
        with open(path) as f:
            holder = f.read().strip()
        age = time.time() - osp.getmtime(path)
    except FileNotFoundError:
        return None
    if holder == holder_id():
        return None
    return holder if _alive(holder) and age < STALE else None


class Locks:
    """The locks this process holds, with one heartbeat thread for all of them."""

    def __init__(self):
        self._held: Dict[str, str] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def acquire(self, work_dir: str) -> Optional[str]:
        """Take ``work_dir``'s lock; None on success, else the live holder."""
        os.makedirs(work_dir, exist_ok=True)
        path = osp.join(work_dir, LOCK)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = lock_holder(work_dir)
                if holder is not None:
                    return holder
                try:  # dead or stale holder: take over
                    os.remove(path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, 'w') as f:
                f.write(holder_id())
            with self._guard:
                self._held[work_dir] = path
            self._start()
            return None
        return lock_holder(work_dir) or 'another process'

    def release(self, work_dir: str) -> None:
        with self._guard:
            path = self._held.pop(work_dir, None)
        if path is not None:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    def release_all(self) -> None:
        for work_dir in list(self._held):
            self.release(work_dir)
        self._stop.set()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            with self._guard:
                paths = list(self._held.values())
            for path in paths:
                try:
                    os.utime(path)
                except FileNotFoundError:
                    pass
