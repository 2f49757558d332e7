"""Running a study: the pretraining first, then the variant runs ``jobs`` at a time; finished
runs skipped, interrupted ones resumed; progress and an estimate of the time left; each run
measured as soon as it ends.

Without a launcher the runs go to ``jobs`` long-lived worker processes, each calling
``mm_cbam.train``'s ``main`` for one run after another (one import of mmdet / mmseg per worker
instead of one per run; each worker uses ``cpu_count // jobs`` threads). With ``--launcher
pytorch|slurm`` every run is a command (:mod:`.commands`). A run's console output goes to
``<run>/study.log``. A run that a guard stops (non-finite loss, a stability alarm with
``stop_on_alarm``) is a result, recorded in ``stopped.txt``, not a failure. Run locks
(:mod:`.lock`) keep two study processes off the same run. Durations of finished runs are kept
in ``<study dir>/durations.json`` for the estimate.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from multiprocessing import get_context
from typing import Callable, Dict, List

from ..runner import run_files
from . import measure as measure_mod
from .commands import shell_line, train_command
from .lock import Locks
from .plan import Run, run_status
from .spec import Study


class RunFailed(RuntimeError):
    """A run failed; the study can be restarted and continues there."""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f'{seconds} s'
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f'{minutes} min {seconds:02d} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes:02d} min'


class Durations:
    """Seconds each finished run took, persisted next to the study's runs."""

    def __init__(self, path: str):
        self.path = path
        self.values: Dict[str, float] = {}
        if osp.isfile(path):
            self.values = run_files.read_json(path)

    def add(self, key: str, seconds: float) -> None:
        self.values[key] = seconds
        with open(self.path, 'w') as f:
            json.dump(self.values, f, indent=1)

    def eta(self, left: List[Run], jobs: int) -> str:
        runs = [v for k, v in self.values.items() if k != 'pretrain']
        if not left:
            return '0 s'
        if not runs:
            return 'known after the first variant run'
        per_run = sum(runs) / len(runs)
        pretrain = self.values.get('pretrain', 5 * per_run) if any(
            r.key == 'pretrain' for r in left) else 0
        return _duration(pretrain + per_run * sum(r.key != 'pretrain' for r in left) / jobs)


def _worker_init(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)
    import mm_cbam  # noqa: F401


def train_in_worker(argv: List[str], work_dir: str) -> str:
    """``mm_cbam.train.main(argv)`` with the output in ``<work_dir>/study.log``: ``'done'``,
    ``'stopped'`` (a guard stopped it: a result) or ``'failed: <reason>'``."""
    import gc
    import traceback
    os.makedirs(work_dir, exist_ok=True)
    saved = os.dup(1), os.dup(2)
    status = 'done'
    with open(osp.join(work_dir, 'study.log'), 'a') as log:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            from mm_cbam.runner.cli import stop_errors
            from mm_cbam.train import main
            log.write(f'$ python -m mm_cbam.train {shell_line(argv)}\n')
            log.flush()
            try:
                main(argv)
            except stop_errors() as exc:
                with open(run_files.stopped_path(work_dir), 'w') as f:
                    f.write(str(exc))
                status = 'stopped'
            except BaseException as exc:  # noqa: BLE001 - reported, the study goes on
                traceback.print_exc()
                status = f'failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}'
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            gc.collect()
    return status


def _progress(work_dir: str) -> str:
    """The newest training progress line of a run, condensed."""
    path = osp.join(work_dir, 'study.log')
    try:
        with open(path, 'rb') as f:
            f.seek(max(0, osp.getsize(path) - 8192))
            lines = f.read().decode(errors='replace').splitlines()
    except OSError:
        return ''
    for line in reversed(lines):
        if 'Iter(train)' in line or 'Epoch(train)' in line:
            text = line.split(' - INFO - ', 1)[-1]
            head = text.split('  lr:')[0]
            loss = [p for p in text.split('  ') if p.startswith(('eta:', 'loss:'))]
            return ' '.join([' '.join(head.split())] + loss)
    return ''


class Executor:
    """Runs a study's runs (see the module doc)."""

    def __init__(self, study: Study, runs: List[Run], launcher: str = 'none', gpus: int = 1,
                 partition: str = 'PARTITION', jobs: int = 1,
                 echo: Callable[[str], None] = None, echo_every: float = 30.0):
        self.study, self.runs, self.launcher = study, runs, launcher
        self.gpus, self.partition, self.jobs = gpus, partition, max(1, jobs)
        self.echo = echo or partial(print, flush=True)
        self.echo_every = echo_every
        self.durations = Durations(osp.join(study.work_dir, 'durations.json'))
        self.locks = Locks()
        self.failures: List[str] = []
        self.position = {r.key: i for i, r in enumerate(runs, start=1)}
        self._lock = threading.Lock()
        self._measurer = None

    def say(self, run: Run, text: str) -> None:
        with self._lock:
            self.echo(f'[{self.position[run.key]}/{len(self.runs)}] {run.key}: {text}')

    def _measure(self, run: Run) -> None:
        if run.key == 'pretrain':
            return
        if self._measurer is None:
            self._measurer = measure_mod.Measurer(self.study)
        measure_mod.save(run.work_dir, self._measurer.measure(run))

    def _argv(self, run: Run) -> List[str]:
        return train_command(run, 'none')[3:]  # without 'python -m mm_cbam.train'

    def _finish(self, run: Run, status: str, started: float) -> None:
        self.locks.release(run.work_dir)
        if not status.startswith('failed'):
            try:
                self._measure(run)
            except Exception as exc:  # noqa: BLE001 - one unmeasurable run, not the study
                status = f'failed: measuring: {type(exc).__name__}: {str(exc)[:300]}'
        if status.startswith('failed'):
            self.failures.append(f'{run.key}: {status} (see {run.work_dir}/study.log)')
            self.say(run, 'FAILED: ' + status)
            return
        run.status = run_status(run)
        self.durations.add(run.key, time.time() - started)
        self.say(run, ('stopped by a guard (a result: see stopped.txt), ' if status == 'stopped'
                       else '') + f'done in {_duration(time.time() - started)}')

    def _claim(self, run: Run) -> bool:
        holder = self.locks.acquire(run.work_dir)
        if holder is not None:
            self.say(run, f'held by {holder}: skipped (it finishes there)')
            run.status = 'held'
            return False
        run.status = run_status(run)
        if run.status == 'done':
            self.locks.release(run.work_dir)
            return False
        left = [r for r in self.runs if r.status not in ('done', 'held')]
        self.say(run, {'new': 'training', 'resume': 'resuming', 'measure': 'measuring'}[
            run.status] + f'; left {len(left)}, estimated time left '
                          f'{self.durations.eta(left, self.jobs)}')
        return True

    def run_all(self) -> None:
        """Run every unfinished run; raise :class:`RunFailed` naming the failures at the end."""
        started = time.time()
        for run in self.runs:
            if run.status == 'done':
                self.say(run, 'finished earlier, skipped')
        todo = [r for r in self.runs if r.status != 'done']
        first = [r for r in todo if r.key == 'pretrain']
        rest = [r for r in todo if r.key != 'pretrain']
        run_first = self._local if self.launcher == 'none' else (lambda runs, _: self._commands(
            runs))
        try:
            run_first(first, 1)
            for run in first:  # the variants load its checkpoint: wait if another process has it
                self._wait_while_held(run, run_first)
            if not self.failures:
                if self.launcher == 'none':
                    self._local(rest, self.jobs)
                else:
                    self._commands(rest)
        finally:
            self.locks.release_all()
        if self.failures:
            raise RunFailed('\n'.join(self.failures) + '\nrun the same command again to '
                            'continue')
        self.echo(f'all runs finished ({_duration(time.time() - started)} in this session)')

    def _wait_while_held(self, run: Run, run_it, poll: float = 10.0) -> None:
        """Wait until ``run`` (held by another study process) is done; run it here if that
        process let go of it unfinished."""
        while run.status == 'held':
            time.sleep(poll)
            if run_status(run) == 'done':
                run.status = 'done'
                self.say(run, 'finished by the other process')
            elif self.locks.acquire(run.work_dir) is None:  # the holder let go unfinished
                self.locks.release(run.work_dir)
                run.status = run_status(run)
                run_it([run], 1)

    def _local(self, runs: List[Run], jobs: int) -> None:
        if not runs:
            return
        threads = max(1, (os.cpu_count() or 1) // jobs)
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context('spawn'),
                                   initializer=_worker_init, initargs=(threads, ))
        with pool:
            pending, running, stop = list(runs), {}, threading.Event()
            ticker = threading.Thread(target=self._tick, args=(running, stop), daemon=True)
            ticker.start()
            futures = {}
            while pending or futures:
                while pending and len(futures) < jobs:
                    run = pending.pop(0)
                    if not self._claim(run):
                        continue
                    if run.status == 'measure':
                        self._finish(run, 'done', time.time())
                        continue
                    running[run.key] = (run, time.time())
                    futures[pool.submit(train_in_worker, self._argv(run), run.work_dir)] = run
                if not futures:
                    break
                future = next(as_completed(futures))
                run = futures.pop(future)
                _, t0 = running.pop(run.key)
                self._finish(run, future.result(), t0)
            stop.set()

    def _tick(self, running: dict, stop: threading.Event) -> None:
        while not stop.wait(self.echo_every):
            for run, _ in list(running.values()):
                line = _progress(run.work_dir)
                if line:
                    self.say(run, line)

    def _commands(self, runs: List[Run]) -> None:
        for run in runs:
            if not self._claim(run):
                continue
            t0 = time.time()
            if run.status != 'measure':
                command = train_command(run, self.launcher, self.gpus, self.partition)
                with open(osp.join(run.work_dir, 'study.log'), 'a') as log:
                    log.write(f'$ {shell_line(command)}\n')
                    log.flush()
                    code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
                status = 'done' if code == 0 else (
                    'stopped' if code == 3 else f'failed: exit status {code}')
            else:
                status = 'done'
            self._finish(run, status, t0)
