"""Two study processes on one work root: a run another live process holds is skipped, a dead
holder's lock is taken over, and the variants wait for a plain model another process pretrains."""
import os
import socket
import subprocess
import sys

from mm_cbam.study import execute as execute_mod
from mm_cbam.study.lock import LOCK, Locks, lock_holder
from mm_cbam.study.plan import Run


def _write_lock(work_dir, pid):
    os.makedirs(work_dir, exist_ok=True)
    with open(os.path.join(work_dir, LOCK), 'w') as f:
        f.write(f'{socket.gethostname()}:{pid}')


def test_a_live_holder_keeps_its_run_and_a_dead_one_loses_it(tmp_path):
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        _write_lock(tmp_path / 'run', sleeper.pid)
        locks = Locks()
        holder = f'{socket.gethostname()}:{sleeper.pid}'
        assert locks.acquire(str(tmp_path / 'run')) == holder
        assert lock_holder(str(tmp_path / 'run')) == holder
    finally:
        sleeper.kill()
        sleeper.wait()
    assert locks.acquire(str(tmp_path / 'run')) is None  # the holder died: taken over
    assert (tmp_path / 'run' / LOCK).read_text() == f'{socket.gethostname()}:{os.getpid()}'
    locks.release_all()
    assert not (tmp_path / 'run' / LOCK).exists()


def test_variants_wait_for_a_pretraining_another_process_holds(tmp_path, monkeypatch):
    """The plain model is being trained elsewhere: wait for its checkpoint instead of starting
    variant runs that would load a file that does not exist yet."""
    run = Run('pretrain', None, 0, str(tmp_path / 'pretrain'), str(tmp_path / 'ckpt.pth'),
              status='held')
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    _write_lock(run.work_dir, sleeper.pid)
    polls = []

    def sleep(seconds):  # the other process finishes during the second wait
        polls.append(seconds)
        if len(polls) == 2:
            (tmp_path / 'ckpt.pth').write_bytes(b'x')

    monkeypatch.setattr(execute_mod.time, 'sleep', sleep)
    ex = execute_mod.Executor.__new__(execute_mod.Executor)
    ex.locks, ex.position, ex.runs, ex.echo = Locks(), {'pretrain': 1}, [run], print
    ex._lock = __import__('threading').Lock()
    ran_here = []
    try:
        ex._wait_while_held(run, lambda runs, jobs: ran_here.extend(runs))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert run.status == 'done' and len(polls) == 2 and not ran_here

    # the holder died without finishing: this process trains it itself
    run.status = 'held'
    os.remove(tmp_path / 'ckpt.pth')
    _write_lock(run.work_dir, sleeper.pid)  # a dead pid now
    ex._wait_while_held(run, lambda runs, jobs: ran_here.extend(runs))
    assert ran_here == [run]
