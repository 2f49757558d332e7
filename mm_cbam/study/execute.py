"""Running a study: the runs one after the other (or ``jobs`` at a time), skipping finished runs,
resuming interrupted ones, with progress and an estimate of the time left.

The tool only launches the project's tools and reads their logs; each run's console output goes
to ``<run>/study.log`` and a condensed progress line is echoed at most every ``echo_every``
seconds. Durations of finished runs are kept in ``<study dir>/durations.json`` so that the
estimate survives a restart. The pretraining of an insert study runs first, alone; with
``jobs > 1`` the variant runs then share the machine (their time per iteration is then not
comparable), and concurrent ``--launcher pytorch`` runs get different ``PORT`` values.
"""
import json
import os
import os.path as osp
import queue
import re
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional

from .plan import ROOT, Run, commands, run_status, shell_line


class RunFailed(RuntimeError):
    """A run's command failed; the study can be restarted and continues there."""


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f'{seconds} s'
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f'{minutes} min {seconds:02d} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes:02d} min'


def _progress_text(line: str) -> str:
    """``... - mmengine - INFO - Epoch(train)  [2][10/40]  lr: ...  loss: 0.8100  ...`` ->
    ``Epoch(train) [2][10/40] eta 0:01:10 loss 0.8100``."""
    text = line.split(' - INFO - ', 1)[-1].strip()
    m = re.match(r'\S+\(\w+\)\s*(?:\[[^\]]*\])+', text)  # 'Epoch(train)  [4][40/40]'
    head = ' '.join(m.group(0).split()) if m else text.split('  ', 1)[0]
    items = dict(p.split(': ', 1) for p in text.split('  ') if ': ' in p)
    out = head
    if 'eta' in items:
        out += f" eta {items['eta']}"
    if 'loss' in items:
        out += f" loss {items['loss']}"
    return out


def run_command(command: List[str], log_path: str, label: str, echo: Callable[[str], None],
                echo_every: float = 30.0, env: Optional[dict] = None) -> None:
    """Run ``command`` from the repository root, output appended to ``log_path``; echo the
    training progress now and then; raise :class:`RunFailed` with the log's tail on failure."""
    env = dict(os.environ if env is None else env)
    while command and '=' in command[0] and not command[0].startswith('-'):
        key, value = command[0].split('=', 1)
        env[key], command = value, command[1:]
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    tail: deque = deque(maxlen=40)
    last_echo = time.time()
    with open(log_path, 'a') as log:
        log.write(f'\n$ {shell_line(command)}\n')
        log.flush()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            log.write(line)
            tail.append(line.rstrip())
            if ('Epoch(train)' in line or 'Iter(train)' in line) and \
                    time.time() - last_echo >= echo_every:
                echo(f'    {label}: {_progress_text(line)}')
                last_echo = time.time()
        code = proc.wait()
    if code != 0:
        raise RunFailed(f'{label}: command failed with exit status {code}: {shell_line(command)}'
                        f'\n--- last lines of {log_path}:\n' + '\n'.join(tail))


class Durations:
    """Seconds each finished run took, persisted next to the study's runs."""

    def __init__(self, path: str):
        self.path = path
        self.values: Dict[str, float] = {}
        if osp.isfile(path):
            with open(path) as f:
                self.values = json.load(f)

    def add(self, key: str, seconds: float) -> None:
        self.values[key] = seconds
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        with open(self.path, 'w') as f:
            json.dump(self.values, f, indent=1)

    def eta(self, left: List[Run], jobs: int = 1) -> str:
        """Time left: the mean duration of finished variant runs times the runs left (divided
        among ``jobs``)."""
        if not left:
            return '0 s'
        runs = [v for k, v in self.values.items() if k != 'pretrain']
        if not runs:
            return 'known after the first variant run'
        per_run = sum(runs) / len(runs)
        pretrain = sum(self.values.get('pretrain', 5 * per_run) for r in left
                       if r.key == 'pretrain')
        rest = sum(per_run for r in left if r.key != 'pretrain')
        return _fmt_duration(pretrain + rest / max(1, jobs))


def execute(runs: List[Run], work_dir: str, launcher: str = 'none', gpus: int = 1,
            partition: str = 'PARTITION', jobs: int = 1,
            echo: Callable[[str], None] = print) -> None:
    """Run every unfinished run (the pretraining first, then ``jobs`` at a time); a failed run
    stops nothing else, the study ends with :class:`RunFailed` naming every failure (run the
    command again to continue)."""
    durations = Durations(osp.join(work_dir, 'durations.json'))
    total, lock, failures = len(runs), threading.Lock(), []
    started = time.time()
    position = {run.key: i for i, run in enumerate(runs, start=1)}
    for run in runs:
        if run.status == 'done':
            echo(f'[{position[run.key]}/{total}] {run.key}: finished earlier, skipped')

    def say(text):
        with lock:
            echo(text)

    def one(run: Run, slot: int = 0) -> None:
        with lock:
            left = [r for r in runs if r.status != 'done']
            eta = durations.eta(left, jobs)
        action = {'new': 'training', 'resume': 'resuming (--resume)',
                  'test': 'testing the final checkpoint'}[run.status]
        say(f'[{position[run.key]}/{total}] {run.key}: {action}; done {total - len(left)}, '
            f'left {len(left)}, estimated time left {eta}')
        env = dict(os.environ)
        if launcher == 'pytorch' and jobs > 1:
            env['PORT'] = str(29500 + 10 * slot)
        t0 = time.time()
        try:
            for command in commands(run, launcher, gpus, partition, python=sys.executable):
                run_command(command, osp.join(run.work_dir, 'study.log'), run.key, say, env=env)
            status = run_status(run)
            if status != 'done':
                raise RunFailed(f'{run.key}: the commands finished but the run is not complete '
                                f'(status {status!r}); see '
                                f'{osp.join(run.work_dir, "study.log")}')
        except RunFailed as exc:
            say(f'[{position[run.key]}/{total}] {run.key}: FAILED')
            with lock:
                failures.append(str(exc))
            return
        with lock:
            run.status = status
            durations.add(run.key, time.time() - t0)
        say(f'[{position[run.key]}/{total}] {run.key}: done in {_fmt_duration(time.time() - t0)}')

    todo = [r for r in runs if r.status != 'done']
    first = [r for r in todo if r.key == 'pretrain']
    for run in first:
        one(run)
    if not failures:
        rest = [r for r in todo if r.key != 'pretrain']
        slots: queue.Queue = queue.Queue()  # slot k: the k-th concurrent run (its PORT)
        for slot in range(max(1, jobs)):
            slots.put(slot)

        def worker(run):
            slot = slots.get()
            try:
                one(run, slot)
            finally:
                slots.put(slot)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(worker, rest))
    if failures:
        raise RunFailed('\n\n'.join(failures))
    echo(f'all {total} runs finished ({_fmt_duration(time.time() - started)} in this session)')
