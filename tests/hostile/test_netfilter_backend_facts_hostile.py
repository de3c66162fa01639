# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17, netfilter_backend_facts: hostile tools, files and options end in a reported error, never a hang, a
traceback, runaway memory or a false verdict.

The module file runs for real (in a fresh network namespace, ``unshare -n``, when a case needs the real tools), with
fake tools first on PATH. Every case runs under a hang guard: ``subprocess.run(timeout=GUARD)`` fails the test when
the module has not finished long after its own ``command_timeout`` (this is a hang detector, not a speed assert).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kntest
from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter as nf
from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter_gather as g
from ansible_collections.kubenode.netfilter.plugins.module_utils._stream import run_stream, stream_lines

MODULE = 'ansible_collections.kubenode.netfilter.plugins.modules.netfilter_backend_facts'
GUARD = 120  # seconds: far above every case's own deadline (command_timeout 1 s x the commands it runs)
ROOT = os.geteuid() == 0 and shutil.which('unshare') is not None


def run_module(tmp_path, args, fakes=None, netns=True):
    """Run the module file with ``args``; ``fakes`` {name: shell script} go first on PATH. Returns the result."""
    fake = tmp_path / 'fakebin'
    fake.mkdir(exist_ok=True)
    for name, script in (fakes or {}).items():
        (fake / name).write_text('#!/bin/sh\n' + script)
        (fake / name).chmod(0o755)
    argsfile = tmp_path / 'args.json'
    argsfile.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT),
               PATH='%s:%s' % (fake, os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')))
    argv = [sys.executable, '-m', MODULE, str(argsfile)]
    if netns:
        if not ROOT:
            pytest.skip('needs root and unshare (a fresh network namespace for the real tools)')
        argv = ['unshare', '-n'] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=GUARD, check=False)
    assert 'Traceback' not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def facts_of(result):
    assert not result.get('failed'), result
    return result['ansible_facts']['netfilter']


def item(facts, what):
    found = [u for u in facts['unreadable'] if u['what'] == what]
    assert found, (what, facts['unreadable'])
    return found[0]


# ---------------------------------------------------------------------------------------------------------------------
# Hangs: every command has a deadline

SLEEP = 'exec sleep 1000\n'
NFT_VERSION = 'echo "nftables v1.0.6 (Lester Gooch #5)"\n'


def test_sleeping_version_is_a_timeout(tmp_path):
    facts = facts_of(run_module(tmp_path, {'command_timeout': 1}, {'iptables': SLEEP}))
    found = item(facts, 'tool.iptables')
    assert found['cause'] == 'timeout' and found['command'].endswith('fakebin/iptables --version')
    assert 'did not finish within 1.0 s' in facts['iptables']['error']


def test_sleeping_nft_list_chains_is_a_timeout(tmp_path):
    script = 'case "$*" in *--version*) ' + NFT_VERSION.strip() + ';; *) exec sleep 1000;; esac\n'
    facts = facts_of(run_module(tmp_path, {'command_timeout': 1}, {'nft': script}))
    found = item(facts, 'nft_tables')
    assert found['cause'] == 'timeout' and found['command'].endswith('nft -j list chains')
    assert any('nft -j list chains did not finish within 1.0 s' in e for e in facts['errors'])


def test_sleeping_save_tool_is_a_timeout(tmp_path):
    facts = facts_of(run_module(tmp_path, {'command_timeout': 1}, {'iptables-nft-save': SLEEP}))
    found = item(facts, 'backends.nft.ipv4')
    assert found['cause'] == 'timeout' and found['command'].endswith('fakebin/iptables-nft-save')
    assert 'did not finish' in facts['backends']['nft']['error']


def test_grandchild_holding_stdout_is_a_timeout(tmp_path):
    script = 'echo "*filter"; echo ":INPUT ACCEPT [0:0]"; echo COMMIT; (sleep 1000 &); exit 0\n'
    facts = facts_of(run_module(tmp_path, {'command_timeout': 1}, {'ip6tables-nft-save': script}))
    assert item(facts, 'backends.nft.ipv6')['cause'] == 'timeout'


def test_deadline_kills_the_process_group():
    """run_stream itself: the grandchild that keeps the pipe open is killed with its group."""
    marker = 'kn-nfgather-%d' % os.getpid()
    result = run_stream(['/bin/sh', '-c', '(/bin/sh -c "sleep 1000; : %s" &) ; echo hi' % marker], lambda _d: None,
                        timeout=1)
    assert result.timed_out and result.rc is None and 'did not finish within 1 s' in result.error
    left = subprocess.run(['pgrep', '-f', marker], capture_output=True, text=True, check=False)
    assert left.stdout.strip() == '', 'the grandchild survived: %s' % left.stdout


# ---------------------------------------------------------------------------------------------------------------------
# Runaway output: capped, streamed

def test_endless_version_output_is_capped(tmp_path):
    facts = facts_of(run_module(tmp_path, {'command_timeout': 20}, {'iptables': 'exec cat /dev/zero\n'}))
    found = item(facts, 'tool.iptables')
    assert found['cause'] == 'failed' and 'printed more than 1048576 bytes' in facts['iptables']['error']


def test_endless_line_from_a_save_tool_is_capped(tmp_path):
    facts = facts_of(run_module(tmp_path, {'command_timeout': 20}, {'iptables-nft-save': 'exec cat /dev/zero\n'}))
    found = item(facts, 'backends.nft.ipv4')
    assert found['cause'] == 'failed' and 'a line longer than' in facts['backends']['nft']['error']


def test_stream_lines_keeps_memory_flat_on_a_long_line():
    result = stream_lines(['cat', '/dev/zero'], lambda _line: None, timeout=20, max_line=1024 * 1024)
    assert result.over_cap and 'a line longer than 1048576 bytes' in result.error and result.rc is None


def test_huge_nft_json_does_not_grow_memory(tmp_path):
    """An nft printing an endless JSON element: stopped at the element cap, not at MemoryError."""
    script = ('case "$*" in *--version*) ' + NFT_VERSION.strip() + ';; *) printf \'{"nftables": [{"chain": "\'; '
              'exec cat /dev/zero;; esac\n')
    facts = facts_of(run_module(tmp_path, {'command_timeout': 20}, {'nft': script}))
    found = item(facts, 'nft_tables')
    assert found['cause'] == 'failed' and 'longer than' in found['reason']


# ---------------------------------------------------------------------------------------------------------------------
# Files: only regular files, bounded

def fixture_root(tmp_path):
    root = tmp_path / 'root'
    (root / 'proc/sys/net/ipv4').mkdir(parents=True)
    (root / 'proc/net').mkdir(parents=True)
    return root


def test_dev_zero_behind_a_sysctl(tmp_path):
    root = fixture_root(tmp_path)
    (root / 'proc/sys/net/ipv4/ip_forward').symlink_to('/dev/zero')
    facts = facts_of(run_module(tmp_path, {'root': str(root)}))
    assert facts['sysctl']['net.ipv4.ip_forward'] is None
    found = item(facts, 'sysctl.net.ipv4.ip_forward')
    assert found['cause'] == 'failed' and 'not a regular file' in found['reason']


def test_fifo_as_table_names(tmp_path):
    root = fixture_root(tmp_path)
    os.mkfifo(str(root / 'proc/net/ip_tables_names'))
    facts = facts_of(run_module(tmp_path, {'root': str(root)}))
    found = item(facts, 'backends.legacy.ipv4')
    assert found['cause'] == 'failed' and 'not a regular file' in found['reason']
    assert facts['backends']['legacy']['ipv4']['kernel_tables'] is None


def test_huge_regular_file_is_bounded(tmp_path):
    root = fixture_root(tmp_path)
    with open(str(root / 'proc/sys/net/ipv4/ip_forward'), 'wb') as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of NULs
    facts = facts_of(run_module(tmp_path, {'root': str(root)}))
    assert 'larger than 65536 bytes' in item(facts, 'sysctl.net.ipv4.ip_forward')['reason']


def test_read_bounded_units(tmp_path):
    path = tmp_path / 'f'
    path.write_text('1\n')
    assert g.read_bounded(str(path)).text == '1\n'
    assert g.read_bounded(str(tmp_path / 'missing')).cause == 'absent'
    assert g.read_bounded('/dev/zero').cause == 'failed'
    assert g.read_bounded(str(tmp_path)).cause == 'failed'
    if os.geteuid() == 0:
        return
    path.chmod(0)
    assert g.read_bounded(str(path)).cause == 'permission'


# ---------------------------------------------------------------------------------------------------------------------
# Options: a false verdict from a root that is not there

@pytest.mark.parametrize('root, msg', [
    ('/does/not/exist', 'root /does/not/exist does not exist'),
    ('/etc/passwd', 'root /etc/passwd is not a directory'),
    ('/tmp\x00/x', 'root contains a NUL byte'),
])
def test_unusable_root_fails(tmp_path, root, msg):
    result = run_module(tmp_path, {'root': root}, netns=False)
    assert result.get('failed') is True and msg in result['msg'], result
    assert 'ansible_facts' not in result


def test_nul_in_search_paths_fails(tmp_path):
    result = run_module(tmp_path, {'search_paths': ['/usr/sbin', 'a\x00b']}, netns=False)
    assert result.get('failed') is True and 'search_paths contains a NUL byte' in result['msg'], result


def test_missing_root_with_legacy_rules_is_not_an_nft_verdict(tmp_path):
    """Issue 17 wrong result 5: legacy rules exist; a missing root must not give 'legacy holds nothing' + nft."""
    if not ROOT:
        pytest.skip('needs root')
    script = 'iptables-legacy -A INPUT -j ACCEPT; iptables-legacy -t mangle -N KUBE-IPTABLES-HINT; exec "$@"'
    argsfile = tmp_path / 'args.json'
    argsfile.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'root': str(tmp_path / 'nope')}}))
    env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT))
    proc = subprocess.run(['unshare', '-n', '/bin/sh', '-ec', script, 'sh', sys.executable, '-m', MODULE,
                           str(argsfile)], capture_output=True, text=True, env=env, timeout=GUARD, check=False)
    result = json.loads(proc.stdout)
    assert result.get('failed') is True and 'does not exist' in result['msg'] and 'ansible_facts' not in result


# ---------------------------------------------------------------------------------------------------------------------
# Property-based: the parsers never raise anything but their own parse error

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                        ['chain', 'rule', 'family', 'table', 'name', 'hook', 'prio', 'handle', 'expr', 'match', 'left',
                         'right', 'meta', 'key', 'payload', 'protocol', 'field', 'set', 'mangle', 'ct', '&', 'comment',
                         'nftables', 'x']), inner, max_size=4), max_leaves=20)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(JSON)
def test_classify_never_raises(expr):
    hits = nf.classify_expressions(expr if isinstance(expr, list) else [expr])
    nf.blocking_hits(hits)
    nf.expected_error(hits, 'ip')
    rule = nf.NftRule('ip', 'filter', 'FORWARD', 1, expr if isinstance(expr, list) else [expr], None)
    nf.writer_hint(rule, [('inet', 'x')])


@SETTINGS
@given(JSON, st.integers(min_value=1, max_value=64))
def test_nft_json_stream_never_raises_else(doc, chunk):
    text = json.dumps({'nftables': doc if isinstance(doc, list) else [doc]})
    seen = []

    def on_item(obj):
        seen.append(obj)
        nf.chain_from_item(obj, 'nft -j list chains')
        nf.rule_from_item(obj, 'nft -j list chains')

    reader = nf.NftJsonStream(on_item, 'nft -j list chains')
    data = text.encode()
    try:
        for start in range(0, len(data), chunk):
            reader.feed(data[start:start + chunk])
        reader.finish()
    except nf.NetfilterParseError as exc:
        assert 'nft -j list chains' in str(exc)


@SETTINGS
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=16))
def test_nft_json_stream_on_bytes(data, chunk):
    reader = nf.NftJsonStream(lambda _obj: None, 'nft -j list table ip filter')
    try:
        for start in range(0, len(data), chunk):
            reader.feed(data[start:start + chunk])
        reader.finish()
    except nf.NetfilterParseError as exc:
        assert 'nft -j list table ip filter' in str(exc)


@SETTINGS
@given(st.text(max_size=400))
def test_text_parsers_never_raise_else(text):
    nf.SaveParser.parse(text)
    nf.parse_table_names(text)
    nf.parse_nft_text_handles(text)
    nf.parse_sysctl_value(text)
    try:
        nf.parse_version_output(text)
    except nf.NetfilterParseError:
        pass


def test_root_without_proc_is_not_an_empty_kernel(tmp_path):
    """A root that exists but is no host's root (no proc below it): every sysctl and the legacy tables are
    unreadable (absent), not 'no such setting' and 'no legacy support'."""
    root = tmp_path / 'empty-root'
    root.mkdir()
    facts = facts_of(run_module(tmp_path, {'root': str(root)}))
    whats = dict((u['what'], u) for u in facts['unreadable'])
    for name in ('net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables'):
        assert whats['sysctl.' + name]['cause'] == 'absent' and facts['sysctl'][name] is None
        assert 'proc/sys is not a directory' in whats['sysctl.' + name]['reason']
    for ipver in ('ipv4', 'ipv6'):
        assert whats['backends.legacy.' + ipver]['cause'] == 'absent'
    assert 'kube_chains' in whats
