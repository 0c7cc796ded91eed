"""Signal pytest runs at given moments; fail if a process they started survives.

Run by .ci/noxfile.py's `stopped` session with one argument, a JSON list of
[name, command, targets, folder, moments, check]: first command runs the test
check to the end, unsignalled, and must pass, or the suite could not have started what
the signals are to stop; then each moment is a run of command with
targets in folder,
signalled that many seconds after pytest started its first process (a
server). Linux only: it reads /proc and uses PR_SET_CHILD_SUBREAPER.
"""
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
STOP_GRACE = 15  # seconds a leftover may take to exit: gunicorn's graceful stop


def parent_pids():
    """{pid: parent pid} of every process running. Zombies are left out, and
    left unreaped: reaping one here would take pytest's exit status from its
    Popen."""
    parents = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                stat = Path(f'/proc/{entry}/stat').read_text()
            except OSError:
                continue  # gone meanwhile
            # after the parenthesised name: the state, then the parent pid
            state, parent = stat.rsplit(')', 1)[1].split()[:2]
            if state != 'Z':
                parents[int(entry)] = int(parent)
    return parents


def our_children():
    """The pids of this process's children still running."""
    return [pid for pid, parent in parent_pids().items() if parent == os.getpid()]


def has_descendants(ancestor):
    parents = parent_pids()
    for pid in parents:
        while pid in parents and parents[pid] != ancestor:
            pid = parents[pid]
        if parents.get(pid) == ancestor:
            return True
    return False


def command_line(pid):
    try:
        return Path(f'/proc/{pid}/cmdline').read_text().replace('\0', ' ').strip()
    except OSError:
        return '?'


def main(plan):
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1) != 0:
        raise SystemExit('could not become a subreaper')
    failures = []
    for name, command, targets, folder, moments, check in plan:
        run = subprocess.run([*command, check], cwd=folder, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=300, check=False)
        if run.returncode != 0 or not re.search(r'\b[1-9]\d* passed\b', run.stdout):
            print(run.stdout[-3000:], run.stderr[-3000:])
            failures.append(f'{name}: {check} does not pass unsignalled (exit {run.returncode})')
            continue
        print(f'{name}: {check} passes unsignalled', flush=True)
        # each moment with the next signal in turn: SIGINT as from Ctrl+C, SIGTERM
        # as from a CI timeout or a process manager, SIGHUP as from a closed terminal
        for number, moment in enumerate(moments):
            signum = SIGNALS[number % len(SIGNALS)]
            label = f'{name}: {signal.Signals(signum).name} {moment} s after the first server'
            started = time.monotonic()
            hung = False
            run = subprocess.Popen([*command, *targets], cwd=folder, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + 60
            while (run.poll() is None and not has_descendants(run.pid)
                   and time.monotonic() < deadline):
                time.sleep(0.01)  # no server yet
            try:
                run.wait(timeout=moment)
                outcome = f'finished before the signal, exit {run.returncode}'
            except subprocess.TimeoutExpired:
                run.send_signal(signum)
                try:
                    run.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    # pytest's faulthandler prints where each thread is, then it aborts
                    run.send_signal(signal.SIGABRT)
                    try:
                        run.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        run.kill()
                        run.wait()
                    failures.append(f'{label}: pytest did not stop within 60 s')
                    hung = True
                outcome = f'pytest exited {run.returncode}'
            output = run.stdout.read()
            run.stdout.close()
            deadline = time.monotonic() + STOP_GRACE
            while (left := our_children()) and time.monotonic() < deadline:
                time.sleep(0.1)
            for pid in left:
                failures.append(f'{label}: left running: {command_line(pid)}')
                os.kill(pid, signal.SIGKILL)
            print(f'{label}: {outcome} after {time.monotonic() - started:.1f} s; '
                  f'{len(left)} process(es) left', flush=True)
            if left or hung:
                print(output[-6000:])
    for failure in failures:
        print('FAIL', failure)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(json.loads(sys.argv[1])))
