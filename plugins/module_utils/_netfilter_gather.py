# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Gathering of ``ansible_facts['netfilter']``: which commands run, in which order, and how their output becomes facts.

Everything the host is asked goes through a ``Runner`` (``which``, ``stream`` a command, ``read_file``, a few
``os.path`` questions). ``SystemRunner`` asks the real host, with a deadline per command and bounded reads;
the unit tests replay captured real output through a runner of their own (tests/fixtures/netfilter/*.replay.json),
so the whole gathering runs without root. Parsing and decisions are ``_netfilter``'s; this file only wires them.

What could not be read is recorded twice: as text in ``errors`` (unchanged contract) and as structured
``unreadable`` items {what, command, reason, cause}, cause one of ``permission`` | ``timeout`` | ``failed`` |
``absent``, so the findings can refuse to pass a node whose requirement could not be checked.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter as nf
from ansible_collections.kubenode.netfilter.plugins.module_utils._stream import (
    CAUSE_ABSENT, CAUSE_FAILED, LineSplitter, OutputLimitError, StreamResult,
    cause_of, run_stream)

# nft 1.0.6 needs ~8 s of CPU to list a 100k-rule table and took 30 s on a loaded 2-core machine
# (bench/bench_netfilter_backend.py): 60 s leaves room for a big node without letting a hung tool stall the play long.
DEFAULT_COMMAND_TIMEOUT = 60
MAX_SMALL_OUTPUT = 1024 * 1024            # --version, -C probes: far more than any real tool prints
MAX_STREAM_OUTPUT = 4 * 1024 * 1024 * 1024  # save dumps and nft -j listings are streamed; the deadline bounds them
MAX_FILE_BYTES = 64 * 1024                # /proc and sysctl files hold a line; /dev/zero behind one must not grow
MAX_REASON = 2000

TOOLS = (
    ('iptables', 'iptables'), ('ip6tables', 'ip6tables'),
    ('iptables_legacy', 'iptables-legacy'), ('ip6tables_legacy', 'ip6tables-legacy'),
    ('iptables_nft', 'iptables-nft'), ('ip6tables_nft', 'ip6tables-nft'),
    ('nft', 'nft'), ('ipset', 'ipset'),
)
BUNDLED_NAMES = ('iptables', 'ip6tables', 'iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft',
                 'xtables-nft-multi', 'xtables-legacy-multi', 'nft', 'ipset')
SAVE_TOOLS = {
    (nf.LEGACY, nf.IPV4): ('iptables-legacy-save', 'xtables-legacy-multi', 'iptables-save'),
    (nf.LEGACY, nf.IPV6): ('ip6tables-legacy-save', 'xtables-legacy-multi', 'ip6tables-save'),
    (nf.NFT, nf.IPV4): ('iptables-nft-save', 'xtables-nft-multi', 'iptables-save'),
    (nf.NFT, nf.IPV6): ('ip6tables-nft-save', 'xtables-nft-multi', 'ip6tables-save'),
}
TABLE_NAMES_FILE = {nf.IPV4: 'proc/net/ip_tables_names', nf.IPV6: 'proc/net/ip6_tables_names'}
# A rule -C looks for; it cannot exist (TEST-NET addresses, both ends), so iptables-nft parses the whole chain.
PROBE = {nf.IPV4: ['-s', '192.0.2.254/32', '-d', '192.0.2.254/32', '-j', 'ACCEPT'],
         nf.IPV6: ['-s', '2001:db8:ffff::fe/128', '-d', '2001:db8:ffff::fe/128', '-j', 'ACCEPT']}
MAX_PROBED_CHAINS = 64
MAX_CHAIN_LISTINGS = 4  # more flagged chains than this: their rule texts come from one listing of the table
SBIN_DIRS = ('/sbin', '/usr/sbin', '/usr/local/sbin')


class GatherInputError(ValueError):
    """An option the gathering cannot work with (the module turns it into fail_json)."""


def short(text: Optional[str], limit: int = MAX_REASON) -> str:
    text = (text or '').strip()
    return text if len(text) <= limit else text[:limit] + '...'


# ---------------------------------------------------------------------------------------------------------------------
# The host, through a runner

@dataclass
class FileRead:
    """``text`` is None when the file could not be read; then ``error`` and ``cause`` (absent|permission|failed)."""

    path: str
    text: Optional[str]
    error: Optional[str] = None
    cause: Optional[str] = None


def read_bounded(path: str, max_bytes: int = MAX_FILE_BYTES) -> FileRead:
    """Read a regular file (procfs files are regular) of at most ``max_bytes``; never a FIFO or a device."""
    try:
        info = os.stat(path)
    except OSError as exc:
        cause = CAUSE_ABSENT if exc.errno in (errno.ENOENT, errno.ENOTDIR) else cause_of(None, exc.errno)
        return FileRead(path, None, 'cannot read %s: %s' % (path, exc.strerror or exc), cause)
    if not stat.S_ISREG(info.st_mode):
        return FileRead(path, None, 'cannot read %s: not a regular file' % path, CAUSE_FAILED)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        return FileRead(path, None, 'cannot read %s: %s' % (path, exc.strerror or exc), cause_of(None, exc.errno))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between stat and open
            return FileRead(path, None, 'cannot read %s: not a regular file' % path, CAUSE_FAILED)
        chunks = []
        size = 0
        while True:
            data = os.read(fd, max_bytes + 1 - size)
            if not data:
                break
            chunks.append(data)
            size += len(data)
            if size > max_bytes:
                return FileRead(path, None, 'cannot read %s: larger than %d bytes' % (path, max_bytes), CAUSE_FAILED)
    except OSError as exc:
        return FileRead(path, None, 'cannot read %s: %s' % (path, exc.strerror or exc), cause_of(None, exc.errno))
    finally:
        os.close(fd)
    return FileRead(path, b''.join(chunks).decode('utf-8', 'replace'))


class SystemRunner(object):
    """The real host: commands with a deadline (``timeout`` seconds each) and capped output; bounded file reads."""

    def __init__(self, timeout: Optional[float] = DEFAULT_COMMAND_TIMEOUT,
                 which: Optional[Callable[[str], Optional[str]]] = None) -> None:
        self.timeout = timeout
        self._which = which

    def which(self, name: str) -> Optional[str]:
        if self._which is not None:
            return self._which(name)
        path = os.environ.get('PATH', os.defpath)
        extra = [d for d in SBIN_DIRS if d not in path.split(os.pathsep)]
        return shutil.which(name, path=os.pathsep.join([path] + extra))

    def stream(self, argv: Sequence[str], on_chunk: Callable[[bytes], None], max_bytes: int) -> StreamResult:
        return run_stream(argv, on_chunk, timeout=self.timeout, max_bytes=max_bytes)

    def read_file(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> FileRead:
        return read_bounded(path, max_bytes)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def islink(self, path: str) -> bool:
        return os.path.islink(path)

    def readlink(self, path: str) -> Optional[str]:
        try:
            return os.readlink(path)
        except OSError:
            return None

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def is_executable(self, path: str) -> bool:
        return os.path.isfile(path) and os.access(path, os.X_OK)


@dataclass
class Output:
    """A finished command: its result and (for captured commands) its stdout."""

    result: StreamResult
    stdout: str = ''

    @property
    def ok(self) -> bool:
        return self.result.ok


# ---------------------------------------------------------------------------------------------------------------------
# Named types of the gathering (what used to be positional tuples)

@dataclass
class GatherOptions:
    root: str = '/'
    search_paths: List[str] = field(default_factory=list)
    inspect_unreadable: bool = True
    command_timeout: Optional[float] = DEFAULT_COMMAND_TIMEOUT


@dataclass
class ToolInfo:
    path: str
    resolved: str
    version: Optional[str] = None
    backend: Optional[str] = None
    error: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {'path': self.path, 'resolved': self.resolved, 'version': self.version, 'backend': self.backend,
                'error': self.error}


@dataclass
class TableCount:
    """One table of one backend and family, as ``backends.<backend>.<family>.tables.<name>``."""

    chains: Optional[int]
    rules: Optional[int]
    incompatible: bool = False
    incompatible_reason: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {'chains': self.chains, 'rules': self.rules, 'incompatible': self.incompatible,
                'incompatible_reason': self.incompatible_reason}


@dataclass
class LegacyFamily:
    tables: Dict[str, TableCount] = field(default_factory=dict)
    kernel_tables: Optional[List[str]] = None
    read: bool = False
    parser: Optional[nf.SaveParser] = None
    error: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {'tables': dict((k, v.as_dict()) for k, v in self.tables.items()),
                'kernel_tables': self.kernel_tables, 'read': self.read}


@dataclass
class NftSaveView:
    """What the iptables-nft dump of one family showed: the wrapper's view of mangle, the ``^-`` lines, the tables."""

    wrapper_mangle: bool
    visible_rules: int
    tables: Dict[str, nf.SaveTable]


@dataclass
class NftFamily:
    tables: Dict[str, TableCount] = field(default_factory=dict)
    view: Optional[NftSaveView] = None
    error: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {'tables': dict((k, v.as_dict()) for k, v in self.tables.items())}


@dataclass
class TableListing:
    """A table read with ``nft -j list table``, streamed: its chains, its rule count and (when asked) the rules
    iptables-nft cannot read, by chain."""

    chains: List[nf.NftChain] = field(default_factory=list)
    rules: int = 0
    flagged: Dict[str, List[Tuple[nf.NftRule, List[nf.ExprHit]]]] = field(default_factory=dict)


@dataclass
class Unreadable:
    """Something the facts could not read: ``what`` (a fact key path), ``command`` (argv joined, or the path read),
    ``reason`` (the tool's stderr or the OS error, trimmed), ``cause`` (permission | timeout | failed | absent)."""

    what: str
    command: str
    reason: str
    cause: str

    def as_dict(self) -> Dict[str, str]:
        return {'what': self.what, 'command': self.command, 'reason': self.reason, 'cause': self.cause}


def check_options(options: GatherOptions, runner: Any) -> None:
    """Raise GatherInputError for a root or search path that cannot be used (named in the message)."""
    for label, value in [('root', options.root)] + [('search_paths', p) for p in options.search_paths or []]:
        if not isinstance(value, str):
            raise GatherInputError('%s must be a path, got %r' % (label, value))
        if '\x00' in value:
            raise GatherInputError('%s contains a NUL byte: %r' % (label, value))
    root = options.root or '/'
    if not runner.exists(root):
        raise GatherInputError('root %s does not exist: nothing under it can be read (a missing root is not an '
                               'empty host)' % root)
    if not runner.isdir(root):
        raise GatherInputError('root %s is not a directory' % root)


# ---------------------------------------------------------------------------------------------------------------------
# The gathering

class Gatherer(object):
    def __init__(self, runner: Any, options: GatherOptions) -> None:
        self.runner = runner
        self.options = options
        self.root = options.root or '/'
        self.errors = []  # type: List[str]
        self.unreadable = []  # type: List[Unreadable]

    # -- plumbing ------------------------------------------------------------------------------------------------
    def path_under_root(self, rel: str) -> str:
        return os.path.join(self.root, rel.lstrip('/'))

    def cannot(self, what: str, command: str, reason: Optional[str], cause: str) -> None:
        item = Unreadable(what, command, short(reason) or '(no output)', cause)
        if item not in self.unreadable:
            self.unreadable.append(item)

    def run(self, argv: Sequence[str], max_bytes: int = MAX_SMALL_OUTPUT) -> Output:
        chunks = []  # type: List[bytes]
        result = self.runner.stream(list(argv), chunks.append, max_bytes)
        return Output(result, b''.join(chunks).decode('utf-8', 'replace'))

    def stream_lines(self, argv: Sequence[str], on_line: Callable[[str], None]) -> StreamResult:
        splitter = LineSplitter(on_line)
        result = self.runner.stream(list(argv), splitter.feed, MAX_STREAM_OUTPUT)
        if result.error is None and result.rc is not None:
            splitter.finish()
        result.lines = splitter.count
        return result

    @staticmethod
    def cmd_error(result: StreamResult, stdout: str = '') -> str:
        if result.error:
            detail = short(result.stderr)
            return result.error + ((': ' + detail) if detail else '')
        return '%s exited %s: %s' % (' '.join(result.argv), result.rc,
                                     short(result.stderr) or short(stdout) or '(no output)')

    @staticmethod
    def cause(result: StreamResult, stdout: str = '') -> str:
        return cause_of((result.stderr or '') + '\n' + (stdout or '') + '\n' + (result.error or ''),
                        result.start_errno, result.timed_out)

    @staticmethod
    def reason(result: StreamResult, stdout: str = '') -> str:
        return short(result.stderr) or short(result.error) or short(stdout) or 'exited %s' % result.rc

    def bin(self, name: str) -> Optional[str]:
        return self.runner.which(name)

    # -- tools ---------------------------------------------------------------------------------------------------
    def tool_info(self, path: Optional[str], what: str) -> Optional[ToolInfo]:
        if not path:
            return None
        info = ToolInfo(path, self.runner.realpath(path))
        argv = [path, '--version']
        out = self.run(argv)
        if not out.ok:
            info.error = self.cmd_error(out.result, out.stdout)
            self.cannot(what, ' '.join(argv), self.reason(out.result, out.stdout), self.cause(out.result, out.stdout))
        else:
            try:
                parsed = nf.parse_version_output(out.stdout or out.result.stderr)
                info.version = parsed.version
                info.backend = parsed.backend
            except nf.NetfilterParseError as exc:
                info.error = '%s: %s' % (' '.join(argv), exc)
                self.cannot(what, ' '.join(argv), str(exc), CAUSE_FAILED)
        if info.backend is None and os.path.basename(path).startswith(('iptables', 'ip6tables')):
            info.backend = nf.backend_from_path(info.resolved)
        if info.error:
            self.errors.append(info.error)
        return info

    def tools(self) -> Dict[str, Optional[ToolInfo]]:
        return dict((key, self.tool_info(self.bin(name), 'tool.' + name)) for key, name in TOOLS)

    def bundled(self) -> Dict[str, Optional[Dict[str, Any]]]:
        out = {}  # type: Dict[str, Optional[Dict[str, Any]]]
        for directory in self.options.search_paths or []:
            if not self.runner.isdir(directory):
                out[directory] = None
                continue
            found = {}
            for name in BUNDLED_NAMES:
                path = os.path.join(directory, name)
                if self.runner.is_executable(path):
                    info = self.tool_info(path, 'bundled.' + path)
                    found[name] = info.as_dict() if info else None
            out[directory] = found
        return out

    def alternatives(self) -> Optional[Dict[str, str]]:
        out = {}
        for name in ('iptables', 'ip6tables'):
            link = self.path_under_root('etc/alternatives/' + name)
            if self.runner.islink(link):
                target = self.runner.readlink(link)
                if target is not None:
                    out[name] = target
        return out or None

    def sysctl(self) -> Dict[str, Any]:
        out = {}  # type: Dict[str, Any]
        # No <root>/proc/sys at all is not a kernel without these settings: nothing could be read (a root that is not a
        # host's root, or /proc not mounted there).
        proc_sys = self.path_under_root('proc/sys')
        no_proc = not self.runner.isdir(proc_sys)
        for name in nf.SYSCTLS:
            path = self.path_under_root(nf.sysctl_relpath(name))
            if no_proc:
                out[name] = None
                self.cannot('sysctl.' + name, path, '%s is not a directory: no sysctl can be read' % proc_sys,
                            CAUSE_ABSENT)
                continue
            read = self.runner.read_file(path, MAX_FILE_BYTES)
            if read.text is None:
                out[name] = None
                if read.cause != CAUSE_ABSENT:  # a missing file is a fact (the setting does not exist now)
                    self.cannot('sysctl.' + name, path, read.error, read.cause or CAUSE_FAILED)
                    self.errors.append(read.error or 'cannot read %s' % path)
            else:
                out[name] = nf.parse_sysctl_value(read.text)
        return out

    # -- save tools ----------------------------------------------------------------------------------------------
    def save_argv(self, backend: str, ipver: str) -> Optional[List[str]]:
        direct, multi, sub = SAVE_TOOLS[(backend, ipver)]
        path = self.bin(direct)
        if path:
            return [path]
        path = self.bin(multi)
        if path:
            return [path, sub]
        return None

    def stream_save(self, argv: Sequence[str]) -> Tuple[nf.SaveParser, StreamResult]:
        parser = nf.SaveParser()
        result = self.stream_lines(argv, parser.feed)
        parser.finish()
        return parser, result

    def read_legacy(self, ipver: str) -> LegacyFamily:
        fam = LegacyFamily()
        what = 'backends.legacy.' + ipver
        names_path = self.path_under_root(TABLE_NAMES_FILE[ipver])
        if not self.runner.exists(names_path):
            proc_net = self.path_under_root('proc/net')
            if not self.runner.isdir(proc_net):  # not "no legacy support": nothing under <root>/proc can be read
                reason = '%s is not a directory: the kernel\'s legacy tables cannot be listed' % proc_net
                self.cannot(what, names_path, reason, CAUSE_ABSENT)
                self.cannot('kube_chains', names_path, reason, CAUSE_ABSENT)
            return fam
        read = self.runner.read_file(names_path, MAX_FILE_BYTES)
        if read.text is None:
            fam.error = read.error
            self.cannot(what, names_path, read.error, read.cause or CAUSE_FAILED)
            self.cannot('kube_chains', names_path, read.error, read.cause or CAUSE_FAILED)
            return fam
        names = nf.parse_table_names(read.text)
        fam.kernel_tables = names
        if not names:
            return fam  # legacy holds nothing; do not run the save tool (it could load modules)
        argv = self.save_argv(nf.LEGACY, ipver)
        if argv is None:
            for name in names:
                fam.tables[name] = TableCount(None, None)
            tool = SAVE_TOOLS[(nf.LEGACY, ipver)][0]
            fam.error = 'the kernel holds legacy %s tables (%s) but no %s was found' % (ipver, ', '.join(names), tool)
            self.cannot(what, tool, fam.error, CAUSE_ABSENT)
            self.cannot('kube_chains', tool, fam.error, CAUSE_ABSENT)
            return fam
        parser, result = self.stream_save(argv)
        fam.read = True
        if not result.ok:
            fam.error = self.cmd_error(result)
            cause = self.cause(result)
            self.cannot(what, ' '.join(argv), self.reason(result), cause)
            self.cannot('kube_chains', ' '.join(argv), self.reason(result), cause)
        fam.parser = parser
        for name in parser.order:
            fam.tables[name] = TableCount(**parser.tables[name].as_dict())
        return fam

    # -- nft -----------------------------------------------------------------------------------------------------
    def nft_failed(self, what: str, command: str, error: Optional[str], result: StreamResult) -> None:
        """Record an nft listing that did not give facts: the command's own failure, or output that did not parse."""
        if result.ok or result.over_cap:
            self.cannot(what, command, error, CAUSE_FAILED)
        else:
            self.cannot(what, command, self.reason(result), self.cause(result))

    def nft_stream(self, nft: str, args: Sequence[str],
                   on_item: Callable[[Dict[str, Any]], None]) -> Tuple[Optional[str], StreamResult]:
        """Stream ``nft -j ARGS`` element by element; (the error text naming the command, or None; the result)."""
        argv = [nft, '-j'] + list(args)
        what = ' '.join(['nft', '-j'] + list(args))
        reader = nf.NftJsonStream(on_item, what)
        parse_error = []  # type: List[str]

        def feed(data: bytes) -> None:
            if parse_error:
                return
            try:
                reader.feed(data)
            except nf.NetfilterParseError as exc:
                parse_error.append(str(exc))
                raise OutputLimitError(str(exc))
            except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
                # a shape no parser above foresaw: still a parse error naming the command, never a traceback
                parse_error.append('%s: output of an unexpected shape (%s: %s)' % (what, type(exc).__name__, exc))
                raise OutputLimitError(parse_error[-1])

        result = self.runner.stream(argv, feed, MAX_STREAM_OUTPUT)
        if parse_error:
            return parse_error[0], result
        if not result.ok:
            return self.cmd_error(result), result
        try:
            reader.finish()
        except nf.NetfilterParseError as exc:
            return str(exc), result
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            return '%s: output of an unexpected shape (%s: %s)' % (what, type(exc).__name__, exc), result
        return None, result

    def nft_chains(self, nft: str) -> Tuple[Optional[List[nf.NftChain]], Optional[str]]:
        chains = []  # type: List[nf.NftChain]

        def on_item(item: Dict[str, Any]) -> None:
            chain = nf.chain_from_item(item, 'nft -j list chains')
            if chain is not None:
                chains.append(chain)

        error, result = self.nft_stream(nft, ['list', 'chains'], on_item)
        if error:
            self.nft_failed('nft_tables', '%s -j list chains' % nft, error, result)
            return None, error
        return chains, None

    def nft_table(self, nft: str, family: str, table: str,
                  classify: bool) -> Tuple[Optional[TableListing], Optional[str], StreamResult]:
        """One table, streamed: chains, rule count, and (``classify``) the rules iptables-nft cannot read."""
        listing = TableListing()
        what = 'nft -j list table %s %s' % (family, table)

        def on_item(item: Dict[str, Any]) -> None:
            chain = nf.chain_from_item(item, what)
            if chain is not None:
                listing.chains.append(chain)
                return
            if 'rule' not in item:
                return
            if not classify:
                if not isinstance(item['rule'], dict):
                    raise nf.NetfilterParseError('%s: a "rule" element that is not an object: %r' % (what, item['rule']))
                listing.rules += 1
                return
            rule = nf.rule_from_item(item, what)
            if rule is None:
                return
            listing.rules += 1
            blocking = nf.blocking_hits(nf.classify_expressions(rule.expr))
            if blocking:
                listing.flagged.setdefault(rule.chain, []).append((rule, blocking))

        error, result = self.nft_stream(nft, ['list', 'table', family, table], on_item)
        if error:
            return None, error, result
        return listing, None, result

    def read_nft_family(self, ipver: str, nft_tables: List[nf.NftTable], chains_known: bool = False) -> NftFamily:
        """Stream iptables-nft-save for one family; re-read tables an aborted dump did not reach.

        ``chains_known``: ``nft -j list chains`` was read, so the kube chains of nf_tables are known without the dump.
        """
        fam = NftFamily()
        what = 'backends.nft.' + ipver
        argv = self.save_argv(nf.NFT, ipver)
        family = nf.FAMILY_OF_IPVER[ipver]
        in_nft = [t for t in nft_tables if t.family == family and t.owner == nf.OWNER_IPTABLES]
        if argv is None:
            for table in in_nft:
                fam.tables[table.name] = TableCount(len(table.chains), None)
            if in_nft:
                tool = SAVE_TOOLS[(nf.NFT, ipver)][0]
                fam.error = 'no %s found' % tool
                self.cannot(what, tool, 'nf_tables holds iptables %s tables (%s) but no %s was found'
                            % (ipver, ', '.join(t.name for t in in_nft), tool), CAUSE_ABSENT)
                self.cannot('iptables_nft_parse_errors', tool, fam.error, CAUSE_ABSENT)
            return fam
        parser, result = self.stream_save(argv)
        errors = []
        # An aborted dump (iptables-nft met a rule it cannot parse: it exits non-zero inside a table) is not a
        # failure to read: the table it stopped in is inspected with nft, the tables after it are re-read one by one.
        cause = self.cause(result)
        aborted = (result.error is None and result.rc not in (None, 0) and cause == CAUSE_FAILED
                   and any(t.truncated for t in parser.tables.values()))
        if not result.ok:
            errors.append(self.cmd_error(result))
            if not aborted:
                keys = [what, 'iptables_nft_parse_errors']
                if not chains_known:
                    keys.append('kube_chains')
                for key in keys:
                    self.cannot(key, ' '.join(argv), self.reason(result), cause)
        tables = dict(parser.tables)
        visible_dash = parser.dash_lines
        if aborted:
            for table in in_nft:
                if table.name in tables:
                    continue
                sub_argv = argv + ['-t', table.name]
                sub, sub_result = self.stream_save(sub_argv)
                if not sub_result.ok:
                    errors.append(self.cmd_error(sub_result))
                    if table.name not in sub.tables or not sub.tables[table.name].truncated:
                        self.cannot(what, ' '.join(sub_argv), self.reason(sub_result), self.cause(sub_result))
                if table.name in sub.tables:
                    tables[table.name] = sub.tables[table.name]
                    parser.order.append(table.name)
        for name in parser.order:
            table = tables[name]
            reason = None
            if table.truncated:
                reason = 'aborted'
            elif table.incompatible_base_chains:
                reason = 'base_chains'
            elif table.incompatible:
                reason = 'incompatible'
            counts = table.as_dict()
            fam.tables[name] = TableCount(counts['chains'], counts['rules'], counts['incompatible'], reason)
        # the wrapper's view of the mangle table (`-t mangle` in detect.go), from the dump or its re-read
        mangle = tables.get('mangle')
        fam.view = NftSaveView(bool(mangle and mangle.wrapper_chains), visible_dash, tables)
        fam.error = '; '.join(errors) or None
        return fam

    # -- unreadable rules ----------------------------------------------------------------------------------------
    def probe_chain(self, ipt: Optional[str], ipver: str, table: str, chain: str) -> Optional[str]:
        """The verbatim error iptables-nft gives for a chain: -C of a rule that cannot exist, else -S CHAIN."""
        if not ipt:
            return None
        argv = [ipt, '-t', table, '-C', chain] + PROBE[ipver]
        out = self.run(argv)
        if out.result.error:
            self.cannot('iptables_nft_parse_errors', ' '.join(argv), self.reason(out.result), self.cause(out.result))
            return short(out.result.error)
        if out.result.rc not in (0, 1):
            return short(out.result.stderr or out.stdout)
        argv = [ipt, '-t', table, '-S', chain]
        result = self.runner.stream(argv, lambda _data: None, MAX_STREAM_OUTPUT)  # only the error matters
        if result.error:
            self.cannot('iptables_nft_parse_errors', ' '.join(argv), self.reason(result), self.cause(result))
            return short(result.error)
        if result.rc != 0:
            return short(result.stderr)
        return None

    def rule_texts(self, nft: str, family: str, table: str, chain: Optional[str],
                   handles: Sequence[Optional[int]]) -> Dict[int, str]:
        """Rule text (as ``nft -a list chain`` prints it) of the given handles only, streamed; the whole table's
        listing when ``chain`` is None (handles are unique in a table)."""
        wanted = set(h for h in handles if h is not None)
        texts = {}  # type: Dict[int, str]

        def on_line(line: str) -> None:
            found = nf.parse_nft_text_handle_line(line)
            if found is not None and found[0] in wanted:
                texts[found[0]] = found[1]

        argv = [nft, '-a', 'list', 'chain', family, table, chain] if chain else [nft, '-a', 'list', 'table', family, table]
        result = self.stream_lines(argv, on_line)
        if not result.ok:
            self.errors.append(self.cmd_error(result))
            return {}
        return texts

    def inspect_table(self, nft: str, ipver: str, table: nf.NftTable, entry: TableCount,
                      other_tables: Sequence[Tuple[str, str]], ipt: Optional[str],
                      ipt_version: Optional[str]) -> List[Dict[str, Any]]:
        """List an incompatible iptables table with nft; fix its counts; return parse-error entries."""
        family = nf.FAMILY_OF_IPVER[ipver]
        listing, error, result = self.nft_table(nft, family, table.name, classify=True)
        if listing is None:
            self.errors.append(error or 'cannot list %s %s' % (family, table.name))
            command = '%s -j list table %s %s' % (nft, family, table.name)
            self.nft_failed('iptables_nft_parse_errors', command, error, result)
            self.nft_failed('backends.nft.' + ipver, command, error, result)
            # the save tool's counts of an incompatible table are not the table's: unknown, never 0
            entry.chains = len(table.chains)
            entry.rules = None
            return []
        entry.chains = len(listing.chains)
        entry.rules = listing.rules
        flagged = listing.flagged
        odd_base = [c.name for c in nf.incompatible_base_chains(table)]
        probe = list(flagged) + [c for c in sorted(odd_base) if c not in flagged]
        if not probe:
            probe = [c.name for c in listing.chains][:MAX_PROBED_CHAINS]
        others = ['%s %s' % t for t in other_tables]
        out = []  # type: List[Dict[str, Any]]
        # Each probe makes iptables-nft load the whole ruleset (5 s at 100k rules): at most MAX_PROBED_CHAINS of them.
        if len(probe) > MAX_PROBED_CHAINS:
            self.errors.append('%s %s: %d chains hold rules iptables-nft cannot read; the verbatim iptables-nft error '
                               'was read for the first %d only (error null for the others)'
                               % (family, table.name, len(probe), MAX_PROBED_CHAINS))
        # Rule texts: one listing per flagged chain, or one of the whole table when many chains are flagged.
        table_texts = None  # type: Optional[Dict[int, str]]
        if len(flagged) > MAX_CHAIN_LISTINGS:
            table_texts = self.rule_texts(nft, family, table.name, None,
                                          [r.handle for rules in flagged.values() for r, _h in rules])
        for index, chain in enumerate(probe):
            chain_error = self.probe_chain(ipt, ipver, table.name, chain) if index < MAX_PROBED_CHAINS else None
            texts = {}  # type: Dict[int, str]
            if chain in flagged:
                texts = table_texts if table_texts is not None else self.rule_texts(
                    nft, family, table.name, chain, [r.handle for r, _h in flagged[chain]])
            base = {'family': family, 'table': table.name, 'chain': chain, 'error': chain_error,
                    'iptables_nft_version': ipt_version}
            for rule, hits in flagged.get(chain, []):
                writer, evidence = nf.writer_hint(rule, other_tables)
                item = dict(base)
                item.update({
                    'handle': rule.handle, 'rule': texts.get(rule.handle) if rule.handle is not None else None,
                    'expected_error': nf.expected_error(hits, family),
                    'expressions': [h.as_dict() for h in hits], 'writer': writer, 'writer_evidence': evidence,
                })
                out.append(item)
            if chain not in flagged and chain_error:
                item = dict(base)
                item.update({'handle': None, 'rule': None, 'expected_error': None, 'expressions': [],
                             'writer': 'unknown', 'writer_evidence': {'comment': None, 'interfaces': [],
                                                                      'other_tables': list(others)}})
                if chain in odd_base:
                    item['expressions'] = [{'class': 'base_chain', 'expression': 'base chain %s' % chain}]
                out.append(item)
        return out

    # -- all -----------------------------------------------------------------------------------------------------
    def gather(self) -> Dict[str, Any]:
        check_options(self.options, self.runner)
        tools = self.tools()
        facts = dict((k, v.as_dict() if v else None) for k, v in tools.items())  # type: Dict[str, Any]
        facts['bundled'] = self.bundled()
        facts['alternatives'] = self.alternatives()
        facts['sysctl'] = self.sysctl()

        # legacy
        legacy = {}  # type: Dict[str, LegacyFamily]
        legacy_available = False
        for ipver in (nf.IPV4, nf.IPV6):
            legacy[ipver] = self.read_legacy(ipver)
            if legacy[ipver].kernel_tables is not None and self.save_argv(nf.LEGACY, ipver):
                legacy_available = True
        legacy_error = '; '.join(f.error for f in legacy.values() if f.error) or None

        # nft
        nft = self.bin('nft')
        nft_tables = []  # type: List[nf.NftTable]
        nft_errors = []  # type: List[str]
        chains_known = False
        if nft:
            chains, error = self.nft_chains(nft)
            if error:
                nft_errors.append(error)
            else:
                nft_tables = nf.group_tables(chains or [])
                chains_known = True
        else:
            self.cannot('nft_tables', 'nft', 'nft was not found on PATH', CAUSE_ABSENT)
        nft_available = bool(self.save_argv(nf.NFT, nf.IPV4) or self.save_argv(nf.NFT, nf.IPV6))
        nft_fams = {}  # type: Dict[str, NftFamily]
        for ipver in (nf.IPV4, nf.IPV6):
            nft_fams[ipver] = self.read_nft_family(ipver, nft_tables, chains_known)
            if nft_fams[ipver].error:
                nft_errors.append(nft_fams[ipver].error)

        # unreadable tables
        parse_errors = []  # type: List[Dict[str, Any]]
        others = [(t.family, t.name) for t in nft_tables if t.owner != nf.OWNER_IPTABLES]
        unreadable_rules = 0
        for ipver in (nf.IPV4, nf.IPV6):
            family = nf.FAMILY_OF_IPVER[ipver]
            ipt_info = tools.get('iptables_nft' if ipver == nf.IPV4 else 'ip6tables_nft')
            ipt = ipt_info.path if ipt_info else None
            for name, entry in sorted(nft_fams[ipver].tables.items()):
                table = next((t for t in nft_tables if t.family == family and t.name == name), None)
                if table is not None and not entry.incompatible and nf.incompatible_base_chains(table):
                    entry.incompatible = True
                    entry.incompatible_reason = 'base_chains'
                if not entry.incompatible:
                    continue
                visible = entry.rules or 0
                if nft and table is not None and self.options.inspect_unreadable:
                    parse_errors.extend(self.inspect_table(nft, ipver, table, entry, others, ipt,
                                                           ipt_info.version if ipt_info else None))
                    unreadable_rules += max(0, (entry.rules or 0) - visible)
                elif table is None or not nft:
                    entry.rules = None
                    if not nft:
                        self.cannot('iptables_nft_parse_errors', 'nft', 'the %s table %s cannot be read by '
                                    'iptables-nft and nft was not found to read it' % (family, name), CAUSE_ABSENT)

        # nft_tables with rule counts (foreign and kube-proxy tables: counted only, streamed)
        listed = []
        for table in nft_tables:
            item = table.as_dict()
            if table.owner == nf.OWNER_IPTABLES:
                entry = nft_fams[nf.IPTABLES_FAMILIES[table.family]].tables.get(table.name)
                item['rules'] = entry.rules if entry else None
            elif nft:
                listing, error, result = self.nft_table(nft, table.family, table.name, classify=False)
                if listing is None:
                    nft_errors.append(error or 'cannot list %s %s' % (table.family, table.name))
                    self.nft_failed('nft_tables', '%s -j list table %s %s' % (nft, table.family, table.name), error,
                                    result)
                else:
                    item['rules'] = listing.rules
            listed.append(item)
        facts['nft_tables'] = listed
        backend_nft = {'available': nft_available, 'error': '; '.join(dict.fromkeys(nft_errors)) or None}
        backend_nft.update(dict((ipver, nft_fams[ipver].as_dict()) for ipver in (nf.IPV4, nf.IPV6)))
        backend_legacy = {'available': legacy_available, 'error': legacy_error}
        backend_legacy.update(dict((ipver, legacy[ipver].as_dict()) for ipver in (nf.IPV4, nf.IPV6)))
        facts['backends'] = {nf.LEGACY: backend_legacy, nf.NFT: backend_nft}

        # kube chains
        legacy_names = set()  # type: set
        for fam in legacy.values():
            if fam.parser is not None:
                legacy_names.update(fam.parser.chain_names())
        nft_names = set(c.name for t in nft_tables if t.owner == nf.OWNER_IPTABLES for c in t.chains
                        if c.name in nf.KUBE_CHAINS)
        for nfam in nft_fams.values():
            if nfam.view is not None:
                for save_table in nfam.view.tables.values():
                    nft_names.update(save_table.kube_chains)
        facts['kube_chains'] = nf.kube_chains_by_backend({nf.LEGACY: legacy_names, nf.NFT: nft_names})

        # decision
        def rules_of(fams: Sequence[Any]) -> int:
            return sum((e.rules or 0) for fam in fams for e in fam.tables.values())

        legacy_rules = sum(f.parser.dash_lines for f in legacy.values() if f.parser is not None)
        nft_visible = sum(f.view.visible_rules for f in nft_fams.values() if f.view is not None)
        v4, v6 = nft_fams[nf.IPV4].view, nft_fams[nf.IPV6].view
        lp4, lp6 = legacy[nf.IPV4].parser, legacy[nf.IPV6].parser
        wrapper = nf.WrapperView(
            nft_v4_mangle=bool(v4 and v4.wrapper_mangle), nft_v6_mangle=bool(v6 and v6.wrapper_mangle),
            legacy_v4=bool(lp4 and lp4.wrapper_sees_kubelet_chains()),
            legacy_v6=bool(lp6 and lp6.wrapper_sees_kubelet_chains()),
            legacy_rules=legacy_rules, nft_rules=nft_visible, nft_rules_unreadable=unreadable_rules)
        go = nf.detect_mode_go(wrapper)
        shell = nf.detect_mode_by_rule_count(wrapper)
        facts['detected_mode'] = go.mode
        facts['mode_reason'] = go.reason
        facts['detected_mode_by_rule_count'] = shell.mode if shell.mode != go.mode else None
        facts['rule_count_reason'] = shell.reason
        nft_total = max(rules_of(list(nft_fams.values())), nft_visible + unreadable_rules)
        facts['rule_counts'] = {'legacy': rules_of(list(legacy.values())), 'nft': nft_total,
                                'nft_unreadable': unreadable_rules}
        facts['mixed'] = facts['rule_counts']['legacy'] > 0 and nft_total > 0
        facts['iptables_nft_parse_errors'] = parse_errors
        all_errors = list(self.errors)
        for msg in (backend_legacy['error'], backend_nft['error']):
            if msg and msg not in all_errors:
                all_errors.append(msg)
        facts['errors'] = all_errors
        facts['unreadable'] = [u.as_dict() for u in self.unreadable]
        return facts


def gather(runner: Any, options: GatherOptions) -> Dict[str, Any]:
    """``ansible_facts['netfilter']`` of the host behind ``runner``; GatherInputError for unusable options."""
    return Gatherer(runner, options).gather()
