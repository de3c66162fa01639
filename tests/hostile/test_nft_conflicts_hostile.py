# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nft_conflicts against a hostile or broken `nft` (issue 17): refusals, deadlines, garbage, odd JSON shapes.

Each case runs the module in a throwaway network namespace with real netfilter state (a foreign rule among
iptables-nft rules) and a stand-in `nft` first on PATH: a shell script that behaves like the real one except for
the one command the case breaks. Every case must end with a clear failure (or success) within its deadline, never a
traceback or a hang, and must leave the ruleset exactly as it was when nothing was removed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import kntest
from kntest.netns import missing_requirements, netns

pytestmark = [pytest.mark.root, pytest.mark.netns]
REASON = missing_requirements('iptables-nft', 'nft')
if REASON:
    pytestmark.append(pytest.mark.skip(reason=REASON))

MODULE = 'ansible_collections.kubenode.netfilter.plugins.modules.nft_conflicts'
REAL_NFT = shutil.which('nft') or '/usr/sbin/nft'
# the module's deadline in these cases, and the most a case may take in all (module start-up included)
DEADLINE = 3
CASE_LIMIT = 60
RULE = [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}]


def stand_in(tmp_path, when, action):
    """A `nft` on PATH that runs ``action`` (sh) when its arguments match the case pattern ``when``, else the real
    nft. ``$REAL`` is the real nft."""
    bindir = tmp_path / 'bin'
    bindir.mkdir(exist_ok=True)
    script = bindir / 'nft'
    script.write_text('#!/bin/sh\nREAL=%s\ncase "$*" in\n%s)\n%s\n;;\nesac\nexec "$REAL" "$@"\n'
                      % (REAL_NFT, when.replace(' ', '\\ '), action))
    script.chmod(0o755)
    return bindir


def run_module(ns, tmp_path, bindir, check=False, timeout=DEADLINE):
    argsfile = tmp_path / ('args-%s.json' % os.urandom(4).hex())
    argsfile.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
        'rules': RULE, 'backup_dir': str(tmp_path / 'backup'), 'timeout': timeout, '_ansible_check_mode': check}}))
    env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT), PATH='%s:%s' % (bindir, os.environ['PATH']))
    start = time.monotonic()
    proc = subprocess.run(ns.argv([sys.executable, '-m', MODULE, str(argsfile)]), capture_output=True, text=True,
                          env=env, timeout=CASE_LIMIT, check=False)
    took = time.monotonic() - start
    assert 'Traceback' not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    try:
        return json.loads(proc.stdout), took
    except ValueError:
        pytest.fail('module printed no JSON: rc %d\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))


def prepare(ns):
    """ip filter FORWARD: iptables rule (2), foreign ct rule (3), iptables rule (4)."""
    ns.sh('iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT; nft add rule ip filter FORWARD ct state established accept; '
          'iptables-nft -A FORWARD -s 10.0.0.2 -j ACCEPT')
    return ns.run([REAL_NFT, '-j', 'list', 'ruleset']).stdout


def same_ruleset(ns, before):
    return json.loads(ns.run([REAL_NFT, '-j', 'list', 'ruleset']).stdout) == json.loads(before)


def test_refused_undo_is_changed_false_with_a_clear_message(tmp_path):
    """Issue 17 #2: the undo file would not load -> nothing removed, failed, changed=false, the rule named."""
    with netns('kn-nftc') as ns:
        before = prepare(ns)
        bindir = stand_in(tmp_path, '-c -j -f -',
                          'echo "Error: Could not process rule: No such file or directory" >&2; exit 1')
        result, _took = run_module(ns, tmp_path, bindir)
        assert result['failed'] is True and result['changed'] is False, result
        assert 'nothing was removed: the undo file would not load' in result['msg']
        assert 'not restorable: ip filter FORWARD handle 3' in result['msg']
        assert same_ruleset(ns, before) and not (tmp_path / 'backup').exists()
        # in check mode too: what would be refused is not "would change"
        result, _took = run_module(ns, tmp_path, bindir, check=True)
        assert result['failed'] is True and result['changed'] is False, result


@pytest.mark.parametrize('when, what', [
    ('-j list chain*', 'reading the chain'),
    ('-c -f -', 'validating the transaction'),
    ('-j list table*', 'saving the table'),
])
def test_a_hanging_nft_meets_its_deadline_and_nothing_is_removed(tmp_path, when, what):
    with netns('kn-nftc') as ns:
        before = prepare(ns)
        bindir = stand_in(tmp_path, when, 'sleep 600')
        result, took = run_module(ns, tmp_path, bindir)
        assert result['failed'] is True and result['changed'] is False, (what, result)
        assert 'deadline of %d s' % DEADLINE in result['msg'], result['msg']
        assert took < DEADLINE + 20, (what, took)
        assert same_ruleset(ns, before)


def test_a_grandchild_holding_stdout_does_not_hang(tmp_path):
    """nft answers, but leaves a process behind that keeps its stdout open: output goes to a file, not a pipe, and
    the process group is killed, so the module goes on at once."""
    with netns('kn-nftc') as ns:
        prepare(ns)
        bindir = stand_in(tmp_path, '-j list chain*', '(sleep 600 &) ; exec "$REAL" "$@"')
        result, took = run_module(ns, tmp_path, bindir, check=True, timeout=30)
        assert not result.get('failed') and result['changed'] is True, result
        assert took < 25, took


@pytest.mark.parametrize('output, message', [
    ('garbage', 'not JSON'),
    ('{"nftables": {"rule": 1}}', 'top-level "nftables" list'),
    ('{"nftables": [{"chain": {"family": "ip", "table": "filter", "name": "FORWARD"}}, '
     '{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": [3], "expr": []}}]}',
     'integer handle'),
    ('{"nftables": [{"chain": {"family": "ip", "table": "filter", "name": "FORWARD"}}, '
     '{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3, "expr": "accept"}}]}',
     'expr list'),
    ('{"nftables": [{"chain": {"family": "ip", "table": "filter", "name": "FORWARD"}}, '
     '{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3, "expr": [{"match": []}]}}]}',
     None),
    ('{"nftables": []} trailing', 'not JSON'),
])
def test_hostile_chain_json_is_a_clear_failure(tmp_path, output, message):
    with netns('kn-nftc') as ns:
        before = prepare(ns)
        bindir = stand_in(tmp_path, '-j list chain*', "printf '%%s' '%s'; exit 0" % output)
        result, _took = run_module(ns, tmp_path, bindir)
        if message is None:
            # an expression shape the classifier cannot take is "unreadable" (unclassified), and its undo cannot be
            # validated against the real rule: the undo is built from this output, so the real nft refuses it
            assert result['changed'] is False and result.get('failed') is True, result
        else:
            assert result['failed'] is True and result['changed'] is False and message in result['msg'], result
        assert same_ruleset(ns, before)
