# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a command with a deadline and an output cap, handing its standard output to a callback as it arrives.

The one place in the collection's netfilter gathering that starts a process. ``AnsibleModule.run_command`` joins the
output chunks it reads (quadratic: issue 17 measured 25 MB of output in 14.5 s, 100 MB in 210 s) and has no deadline;
here the pipe is read in 64 KiB chunks with ``select`` against a deadline, the total is capped, and on the deadline or
the cap the whole process group is killed (``start_new_session``), so a grandchild holding stdout open cannot keep the
read alive. Standard error goes to an anonymous temporary file (read back up to 64 KiB), so a chatty stderr can never
block the pipe. Everything runs with ``LC_ALL=C`` and without a shell.
"""

from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

MAX_STDERR_CHARS = 64 * 1024
CHUNK = 64 * 1024
MAX_LINE = 4 * 1024 * 1024  # a line longer than this (for example /dev/zero behind a tool) stops the command

CAUSE_PERMISSION = 'permission'
CAUSE_TIMEOUT = 'timeout'
CAUSE_FAILED = 'failed'
CAUSE_ABSENT = 'absent'


@dataclass
class StreamResult:
    """``rc`` is None when the command could not be started, or was killed at the deadline or the output cap (then
    ``error`` says which). ``lines`` counts stdout lines (``stream_lines``) and ``size`` stdout bytes."""

    argv: Sequence[str]
    rc: Optional[int]
    stderr: str
    lines: int = 0
    error: Optional[str] = None
    timed_out: bool = False
    over_cap: bool = False
    size: int = 0
    start_errno: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.error is None


class OutputLimitError(Exception):
    """Raised by a callback to stop a command whose output exceeds what the reader accepts."""


def c_locale_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({'LC_ALL': 'C', 'LANG': 'C', 'LANGUAGE': 'C'})
    if extra:
        env.update(extra)
    return env


def kill_group(proc: 'subprocess.Popen[bytes]') -> None:
    """Kill what is left of the process group (grandchildren included) and the process; reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def run_stream(argv: Sequence[str], on_chunk: Callable[[bytes], None], timeout: Optional[float] = None,
               max_bytes: Optional[int] = None, env: Optional[Dict[str, str]] = None) -> StreamResult:
    """Run ``argv`` (no shell, stdin /dev/null); call ``on_chunk`` with stdout bytes as they arrive.

    ``timeout``: seconds for the whole command (start to exit); ``max_bytes``: stdout cap. Either one ends the command
    (its process group is killed) and sets ``error`` naming the command. An ``OutputLimitError`` raised by
    ``on_chunk`` ends it the same way (``over_cap``); any other exception propagates after the process is reaped.
    """
    argv = [str(a) for a in argv]
    name = ' '.join(argv)
    deadline = None if timeout is None else time.monotonic() + timeout
    size = 0
    timed_out = False
    over_cap = False
    limit = 'more than %s bytes' % max_bytes
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                    env=c_locale_env(env), close_fds=True, start_new_session=True)
        except OSError as exc:
            return StreamResult(argv, None, '', error='cannot run %s: %s' % (argv[0], exc.strerror or exc),
                                start_errno=exc.errno)
        rc = None  # type: Optional[int]
        try:
            if proc.stdout is None:  # not reachable with stdout=PIPE; keeps type checkers honest
                raise RuntimeError('no stdout pipe for %s' % argv[0])
            fd = proc.stdout.fileno()
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                while True:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        timed_out = True
                        break
                    if not sel.select(remaining):
                        continue
                    data = os.read(fd, CHUNK)
                    if not data:
                        break
                    size += len(data)
                    if max_bytes is not None and size > max_bytes:
                        over_cap = True
                        break
                    try:
                        on_chunk(data)
                    except OutputLimitError as exc:
                        over_cap = True
                        limit = str(exc)
                        break
            if not (timed_out or over_cap):
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    rc = proc.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    timed_out = True
        except BaseException:
            kill_group(proc)
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        if timed_out or over_cap:
            kill_group(proc)
            rc = None
        else:
            # the command exited: whatever it left behind in its group (a grandchild) goes too
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        err.seek(0)
        stderr = err.read(MAX_STDERR_CHARS).decode('utf-8', 'replace')
    error = None
    if timed_out:
        error = '%s did not finish within %s s (killed)' % (name, timeout)
    elif over_cap:
        error = '%s printed %s (stopped)' % (name, limit)
    return StreamResult(argv, rc, stderr, error=error, timed_out=timed_out, over_cap=over_cap, size=size)


class LineSplitter(object):
    """Bytes in, complete lines (str, newline stripped, undecodable bytes replaced) out; a line is capped."""

    def __init__(self, on_line: Callable[[str], None], max_line: int = MAX_LINE) -> None:
        self.on_line = on_line
        self.max_line = max_line
        self.count = 0
        self._pending = []  # type: List[bytes]
        self._pending_len = 0

    def feed(self, data: bytes) -> None:
        start = 0
        while True:
            nl = data.find(b'\n', start)
            if nl < 0:
                break
            piece = data[start:nl]
            if self._pending:
                self._pending.append(piece)
                piece = b''.join(self._pending)
                self._pending = []
                self._pending_len = 0
            self._emit(piece)
            start = nl + 1
        if start < len(data):
            rest = data[start:]
            self._pending_len += len(rest)
            if self._pending_len > self.max_line:
                raise OutputLimitError('a line longer than %d bytes' % self.max_line)
            self._pending.append(rest)

    def _emit(self, raw: bytes) -> None:
        if len(raw) > self.max_line:
            raise OutputLimitError('a line longer than %d bytes' % self.max_line)
        self.count += 1
        self.on_line(raw.decode('utf-8', 'replace').rstrip('\r'))

    def finish(self) -> None:
        if self._pending:
            piece = b''.join(self._pending)
            self._pending = []
            self._pending_len = 0
            self._emit(piece)


def stream_lines(argv: Sequence[str], on_line: Callable[[str], None], env: Optional[Dict[str, str]] = None,
                 timeout: Optional[float] = None, max_bytes: Optional[int] = None,
                 max_line: int = MAX_LINE) -> StreamResult:
    """Run ``argv`` (no shell), call ``on_line`` with every stdout line (newline stripped); return rc and stderr.

    Undecodable bytes are replaced, never raised. ``timeout`` / ``max_bytes`` / ``max_line`` end the command with
    ``error`` set (see ``run_stream``). An exception raised by ``on_line`` stops the command and propagates after the
    process has been reaped.
    """
    splitter = LineSplitter(on_line, max_line)
    result = run_stream(argv, splitter.feed, timeout=timeout, max_bytes=max_bytes, env=env)
    if result.error is None and result.rc is not None:
        splitter.finish()
    result.lines = splitter.count
    return result


def cause_of(text: Optional[str], start_errno: Optional[int] = None, timed_out: bool = False) -> str:
    """'timeout' | 'permission' | 'absent' | 'failed' for a failed command or read, from its errno or its message."""
    if timed_out:
        return CAUSE_TIMEOUT
    if start_errno in (errno.EACCES, errno.EPERM):
        return CAUSE_PERMISSION
    if start_errno == errno.ENOENT:
        return CAUSE_ABSENT
    low = (text or '').lower()
    if 'permission denied' in low or 'operation not permitted' in low or 'you must be root' in low:
        return CAUSE_PERMISSION
    return CAUSE_FAILED
