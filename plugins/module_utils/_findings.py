# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one evaluation: facts (kernel_config + netfilter) x mode, distribution and CNI -> findings.

Every decision (the iptables backend Kubernetes uses, the tools, the modules, the severities) is made here, from the
rows of ``_catalog.py``; each finding that something can fix carries a structured ``remedy`` and the role flag that
allows it. The remediation roles apply those remedies and derive nothing themselves. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils._catalog import (
    BACKENDS, CNI_CHOICES, CNI_ROWS, DISTRIBUTION_ROWS, DISTRIBUTIONS, K3S_CHECK_CONFIG_STATISTIC, K3S_NFT_BUNDLED, KL,
    KP, KUBE_CHAIN_NAMES, MODE_ROWS, MODES, NFT_KNOWN_BAD, NFT_PRIORITY_NAMES, REMEDY_FLAGS, SEVERITIES,
    SRC_IPVS_DEPRECATION, SRC_K3S_CHECK_STATISTIC, SRC_K3S_NFT_BUNDLE, SRC_K3S_PATH, SRC_K3S_SYSSETUP,
    SRC_K8S_RUNTIME_DOC, SRC_KP_IPTABLES, SRC_KP_IPVS, SRC_KUBEADM_BRIDGE, SRC_KUBEADM_PREFLIGHT, SRC_KUBELET_HINT,
    SRC_WRAPPER,
    STATISTIC_FAILURE, VERSION_REQUIREMENTS, KernelOption, extra_modules_package, options_for, tool_packages,
    version_requirements_for,
)
from ansible_collections.kubenode.netfilter.plugins.module_utils._version import version_tuple

# ==============================================================================================================
# Evaluation: facts (kernel_config + netfilter) x chosen mode, distribution and CNI -> findings
#
# Everything below is a pure function of its arguments. Ids name the check (stable); the severity tells the outcome.
# docs/findings.md documents every id.


FIX_KERNEL_REBUILD = ('use a kernel built with it (=y or =m): a fuller flavour of your distribution\'s kernel '
                      '(for example Alpine linux-lts instead of linux-virt) or a rebuilt one')
FIX_INSTALL_EXTRA = ('install the package that ships the module for this kernel release: set '
                     'kubenode_kernel_modules_install_extra: true (role kubenode.netfilter.kernel_modules) with '
                     'kubenode_kernel_modules_remediate: true')
FIX_LOAD_MODULES = ('load it now and at every boot: set kubenode_kernel_modules_remediate: true (role '
                    'kubenode.netfilter.kernel_modules), which loads it and writes /etc/modules-load.d/')
FIX_TOOLS = ('set kubenode_netfilter_tools_remediate: true (role kubenode.netfilter.netfilter_tools), which installs '
             'the tools this mode needs for the OS family')
FIX_SYSCTL = ('set kubenode_sysctl_remediate: true (role kubenode.netfilter.kernel_modules), which sets it now and '
              'in /etc/sysctl.d/')
FIX_NFT_CONFLICTS = ('(1) configure the tool that wrote them to keep its rules in a table of its own (for Netbird '
                     'and similar tools: a table of their own in family inet); (2) or let this collection remove '
                     'exactly those rules after a backup: kubenode_nft_conflicts_remediate: true with '
                     'kubenode_nft_conflicts_rules listing them (role kubenode.netfilter.nft_conflicts); '
                     '(3) a newer iptables reads only some of them (meta mark set), so upgrading iptables is not the '
                     'general fix. Never flush the whole ruleset: it deletes every firewall rule of the host')


_SEVERITY_RANK = dict((name, rank) for rank, name in enumerate(SEVERITIES))


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    message: str
    fix: str
    remedy: Optional[Dict[str, Any]] = None       # what a role can do about it ({kind, ..., flag}); None: a person
    kernel_release: Optional[str] = None          # set when the finding is about an installed, not running, kernel

    def as_dict(self) -> Dict[str, Any]:
        out = {'id': self.id, 'severity': self.severity, 'message': self.message, 'fix': self.fix,
               'remedy': dict(self.remedy) if self.remedy else None}  # type: Dict[str, Any]
        if self.kernel_release is not None:
            out['kernel_release'] = self.kernel_release
        return out


def remedy(kind: str, **params: Any) -> Dict[str, Any]:
    """A structured remedy: its kind, its parameters and the role variable that allows it (REMEDY_FLAGS)."""
    out = {'kind': kind}  # type: Dict[str, Any]
    out.update(params)
    out['flag'] = REMEDY_FLAGS[kind]
    return out


def _worse(a: str, b: str) -> bool:
    """True when severity ``a`` is worse than ``b``."""
    return _SEVERITY_RANK[a] < _SEVERITY_RANK[b]


class _Collector(object):
    """Findings by id; a second finding with the same id keeps the worse severity (the first on a tie)."""

    def __init__(self, include_passed: bool) -> None:
        self.include_passed = include_passed
        self.items = {}  # type: Dict[str, Finding]

    def add(self, fid: str, severity: str, message: str, fix: str = '',
            remedy: Optional[Dict[str, Any]] = None) -> None:
        if severity == 'ok' and not self.include_passed:
            return
        old = self.items.get(fid)
        if old is None or _worse(severity, old.severity):
            self.items[fid] = Finding(fid, severity, message, fix or 'nothing to do', remedy)

    def result(self) -> List[Finding]:
        return sorted(self.items.values(), key=lambda f: (_SEVERITY_RANK[f.severity], f.id))


def _series_has(version: Optional[str], table: Sequence[Tuple[int, int]]) -> Optional[bool]:
    """Whether a k3s release (``v1.31.2+k3s1``, ``1.31.2``) is at or after the per-series release in ``table``;
    None when the version is unknown or not a 1.x release."""
    if not version:
        return None
    vt = version_tuple(version.strip().lstrip('vV'))
    if vt is None or vt[0] != 1:
        return None
    minor, patch = vt[1], vt[2]
    series = dict(table)
    if minor in series:
        return patch >= series[minor]
    if minor > max(series):
        return True
    if minor < min(series):
        return False
    return None


def _first_release(table: Sequence[Tuple[int, int]]) -> str:
    return ', '.join('v1.%d.%d' % (minor, patch) for minor, patch in table)


def _get(mapping: Any, *path: str) -> Any:
    cur = mapping
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def bundled_tool(netfilter: Any, name: str) -> Optional[Dict[str, Any]]:
    """The first working copy of tool ``name`` that netfilter_backend_facts found in a bundled directory
    (``netfilter['bundled'][dir][name]``, directories in sorted order), or None."""
    dirs = _get(netfilter, 'bundled')
    if not isinstance(dirs, dict):
        return None
    for directory in sorted(dirs):
        tools = dirs[directory]
        if isinstance(tools, dict) and isinstance(tools.get(name), dict) and not tools[name].get('error'):
            return tools[name]
    return None


def _sysctl_int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip('-').isdigit():
        return int(value.strip())
    return None


def _priority_value(priority: Any) -> Optional[int]:
    """nft base-chain priority as an integer (``-110``, ``"filter"``, ``"dstnat - 10"``); None when unreadable."""
    if isinstance(priority, bool):
        return None
    if isinstance(priority, int):
        return priority
    if not isinstance(priority, str):
        return None
    text = priority.replace(' ', '')
    if text.lstrip('-').isdigit():
        return int(text)
    for op in ('+', '-'):
        if op in text[1:]:
            name, _sep, off = text.rpartition(op)
            if name in NFT_PRIORITY_NAMES and off.isdigit():
                return NFT_PRIORITY_NAMES[name] + (int(off) if op == '+' else -int(off))
    return NFT_PRIORITY_NAMES.get(text)


class _Context(object):
    """The arguments and facts of one evaluation, plus derived decisions shared by the checks."""

    def __init__(self, facts: Dict[str, Any], proxy_mode: str, distribution: str, cni: str,
                 distribution_version: Optional[str], ipv6: bool, kube_router_image_backend: Optional[str],
                 k3s_prefer_bundled_bin: bool) -> None:
        self.kernel = facts.get('kernel_config') if isinstance(facts.get('kernel_config'), dict) else None
        self.nf = facts.get('netfilter') if isinstance(facts.get('netfilter'), dict) else None
        self.mode = proxy_mode
        self.distribution = distribution
        self.cni = cni
        self.version = distribution_version
        self.ipv6 = ipv6
        self.kr_backend = kube_router_image_backend
        self.prefer_bundled = k3s_prefer_bundled_bin
        self.families = ('ipv4', 'ipv6') if ipv6 else ('ipv4',)
        self.dist = DISTRIBUTION_ROWS[distribution]
        self.cni_row = CNI_ROWS[cni]
        self.mode_row = MODE_ROWS[proxy_mode]
        self.kp_runs = None if proxy_mode == 'none' else self.dist.kube_proxy_runs
        # the OS (ansible_facts of the setup module, when gathered): package names of the remedies
        self.os_distribution = facts.get('distribution') if isinstance(facts.get('distribution'), str) else None
        self.os_family = facts.get('os_family') if isinstance(facts.get('os_family'), str) else None
        self.os_major = facts.get('distribution_major_version')
        self.os_major = str(self.os_major) if isinstance(self.os_major, (str, int)) else None
        self.kernel_version = (self.kernel or {}).get('version')
        self.modules_disabled = _sysctl_int(_get(self.nf, 'sysctl', 'kernel.modules_disabled')) == 1

    # -- tools -------------------------------------------------------------------------------------------------
    def tool(self, key: str) -> Tuple[str, Optional[Dict[str, Any]]]:
        """('ok'|'broken'|'missing'|'unknown', info) for a host tool key of the netfilter facts."""
        if self.nf is None or key not in self.nf:
            return 'unknown', None
        info = self.nf.get(key)
        if not isinstance(info, dict) or not info.get('path'):
            return 'missing', None
        if info.get('error'):
            return 'broken', info
        return 'ok', info

    def bundled(self, name: str) -> Optional[Dict[str, Any]]:
        """A working bundled tool reported under ``bundled`` (any search path), or None."""
        return bundled_tool(self.nf, name)

    def bundled_reported(self) -> bool:
        dirs = _get(self.nf, 'bundled')
        return isinstance(dirs, dict) and any(isinstance(v, dict) for v in dirs.values())

    def host_backend(self) -> Optional[str]:
        status, info = self.tool('iptables')
        if info is not None and info.get('backend') in BACKENDS:
            return info['backend']
        if status == 'missing' and self.dist.bundled_tools:
            bundled = self.bundled('iptables')
            if bundled is not None and bundled.get('backend') in BACKENDS:
                return bundled['backend']
        return None

    def chain_holders(self) -> Dict[str, List[str]]:
        chains = _get(self.nf, 'kube_chains')
        out = {}
        if isinstance(chains, dict):
            for name in KUBE_CHAIN_NAMES:
                held = [b for b in (chains.get(name) or []) if b in BACKENDS]
                if held:
                    out[name] = sorted(held)
        return out

    def k8s_backend(self) -> Tuple[str, str]:
        """The iptables backend Kubernetes components use (or will use) on this node, and why."""
        holders = self.chain_holders()
        backends = sorted({b for held in holders.values() for b in held})
        detected = _get(self.nf, 'detected_mode')
        if len(backends) == 1:
            return backends[0], 'the node has joined: %s found only in %s, and every wrapper follows them' % (
                ', '.join(sorted(holders)), backends[0])
        if len(backends) == 2 and detected in BACKENDS:
            return detected, 'Kubernetes chains exist in both backends; iptables-wrappers picks %s (%s)' % (
                detected, _get(self.nf, 'mode_reason') or 'no reason reported')
        host = self.host_backend()
        if host:
            return host, ('no KUBE-IPTABLES-HINT or canary chain yet (the node has not joined): kubelet will create '
                          'KUBE-IPTABLES-HINT with the host\'s iptables, which uses %s, and every wrapper will '
                          'follow it' % host)
        if detected in BACKENDS:
            return detected, 'no host iptables and no Kubernetes chains: iptables-wrappers\' default (%s)' % detected
        return 'nft', ('no host iptables, no Kubernetes chains and no detected mode: assuming nft (the wrappers\' '
                       'default)')


def evaluate(facts: Dict[str, Any], proxy_mode: str = 'iptables', distribution: str = 'generic',
             cni: str = 'other', distribution_version: Optional[str] = None, include_passed: bool = False,
             ipv6: bool = False, kube_router_image_backend: Optional[str] = None,
             k3s_prefer_bundled_bin: bool = False, profile: Optional[Dict[str, Any]] = None,
             kernels: str = 'running') -> List[Finding]:
    """Findings for one host's facts (a dict holding ``kernel_config`` and ``netfilter``, as ansible_facts does).

    ``profile``: the output of resolve_profile() that chose the mode, distribution, CNI and IPv6 (adds the
    ``profile.*`` findings: explicit choices that differ from the node's configuration, values assumed).
    ``kernels``: ``running``, ``all`` (also every installed kernel of ``kernel_config.installed``) or ``auto`` (all
    when the kernel the node boots next is not the running one).
    Raises ValueError for an argument outside its choices. Missing fact sets become findings, never exceptions.
    """
    check_arguments(proxy_mode, distribution, cni, kube_router_image_backend)
    validate_facts(facts)
    ctx = _Context(facts, proxy_mode, distribution, cni, distribution_version, bool(ipv6),
                   kube_router_image_backend, bool(k3s_prefer_bundled_bin))
    out = _Collector(bool(include_passed))
    backend, backend_reason = ctx.k8s_backend()
    _check_fact_sets(ctx, out)
    _check_kernel(ctx, out, backend, backend_reason)
    _check_kernel_versions(ctx, out)
    _check_installed_kernels(ctx, out, backend, backend_reason, kernels)
    _check_tools(ctx, out)
    _check_backend(ctx, out, backend, backend_reason)
    _check_nft_tables(ctx, out)
    _check_sysctls(ctx, out)
    _check_mode_and_distribution(ctx, out)
    if profile:
        _check_profile(profile, out)
    return out.result()


# --------------------------------------------------------------------------------------------------------------
# Every installed kernel, before the reboot

KERNELS = ('running', 'all', 'auto')


def _installed_to_check(ctx: _Context, kernels: str) -> List[Tuple[str, Dict[str, Any]]]:
    installed = _get(ctx.kernel, 'installed')
    if kernels == 'running' or not isinstance(installed, dict):
        return []
    running = (ctx.kernel or {}).get('release')
    next_boot = (ctx.kernel or {}).get('next_boot')
    if kernels == 'auto' and (not next_boot or next_boot == running):
        return []
    return [(release, facts) for release, facts in sorted(installed.items())
            if release != running and isinstance(facts, dict) and not facts.get('running')]


def _check_installed_kernels(ctx: _Context, out: _Collector, backend: str, backend_reason: str,
                             kernels: str) -> None:
    """Each installed, not running kernel evaluated like the running one: a problem in the kernel the node boots next
    keeps its severity, one in another installed kernel is a warning. Ids get ``@<release>`` and the finding names the
    release; nothing is ever loaded into a kernel that is not running (no load remedy), but a package that ships a
    missing module for that release can be installed."""
    if kernels not in KERNELS:
        raise ValueError('kernels must be one of %s, got %r' % (', '.join(KERNELS), kernels))
    next_boot = (ctx.kernel or {}).get('next_boot')
    candidates = _installed_to_check(ctx, kernels)
    if kernels != 'running' and next_boot and next_boot != (ctx.kernel or {}).get('release') \
            and next_boot not in dict(candidates):
        out.add('kernel.next_boot_unknown', 'error',
                'the node boots %s next (%s), but no config or modules of that release were found, so the kernel it '
                'boots next could not be checked.' % (next_boot, (ctx.kernel or {}).get('next_boot_source')),
                'install that kernel\'s package completely (its /boot/config-%s and /lib/modules/%s) or set the boot '
                'loader\'s default to an installed kernel' % (next_boot, next_boot))
    for release, facts in candidates:
        if facts.get('bootable') is False:
            out.add('kernel.installed_not_bootable@' + release, 'info',
                    'kernel %s left files behind but cannot boot (%s); not checked.' % (
                        release, facts.get('bootable_reason') or 'no image or modules'), 'nothing to do')
            continue
        sub = _Context.__new__(_Context)
        sub.__dict__.update(ctx.__dict__)
        sub.kernel = facts
        sub.kernel_version = facts.get('version')
        sub.modules_disabled = False  # a kernel that boots later starts with module loading allowed
        inner = _Collector(False)
        _check_kernel(sub, inner, backend, backend_reason)
        _check_kernel_versions(sub, inner)
        boots_next = release == next_boot
        for finding in inner.result():
            severity = finding.severity if boots_next or finding.severity == 'info' else 'warning'
            rem = finding.remedy if finding.remedy and finding.remedy.get('kind') == 'install_package' else None
            where = 'kernel %s (installed, %s)' % (
                release, 'the node boots it next' if boots_next else 'not the one the node boots next')
            fid = finding.id + '@' + release
            out.add(fid, severity, '%s: %s' % (where, finding.message), finding.fix, remedy=rem)
            if fid in out.items:
                out.items[fid] = Finding(fid, out.items[fid].severity, out.items[fid].message, out.items[fid].fix,
                                         out.items[fid].remedy, release)


# --------------------------------------------------------------------------------------------------------------
# The node's own profile (node_profile_facts) against the user's choices

PROFILE_DEFAULTS = (('proxy_mode', 'iptables', MODES), ('distribution', 'generic', DISTRIBUTIONS),
                    ('cni', 'other', CNI_CHOICES), ('ipv6', False, (True, False)))
AUTO = 'auto'


def _as_auto_bool(name: str, value: Any) -> Any:
    if value is None or value == '' or value == AUTO:
        return AUTO
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', 'yes', 'on', '1'):
        return True
    if text in ('false', 'no', 'off', '0'):
        return False
    raise ValueError('%s must be auto, true or false, got %r' % (name, value))


def resolve_profile(node_profile: Any, proxy_mode: Any = AUTO, distribution: Any = AUTO, cni: Any = AUTO,
                    ipv6: Any = AUTO, distribution_version: Any = None,
                    k3s_prefer_bundled_bin: Any = None) -> Dict[str, Any]:
    """What a host is judged against: each of proxy_mode, distribution, cni, ipv6 is the explicit choice when one
    was given (it wins: planning a migration is a real use), else what the node is configured for
    (``ansible_facts['node_profile']``), else the old default, marked as assumed. Each value has a ``<key>_source``;
    ``mismatch`` lists explicit choices that differ from the node's configured value; ``assumed`` the keys that fell
    back to a default. Raises ValueError for a choice outside its values."""
    node = node_profile if isinstance(node_profile, dict) else {}
    chosen = {'proxy_mode': proxy_mode, 'distribution': distribution, 'cni': cni,
              'ipv6': _as_auto_bool('ipv6', ipv6)}  # type: Dict[str, Any]
    out = {'assumed': [], 'mismatch': []}  # type: Dict[str, Any]
    for key, default, choices in PROFILE_DEFAULTS:
        value = chosen[key]
        if value is None or value == '':
            value = AUTO
        configured = node.get(key)
        known = configured in choices and configured is not None
        source = node.get(key + '_source') or 'unknown'
        if value != AUTO:
            if value not in choices:
                raise ValueError('%s must be auto or one of %s, got %r' % (
                    key, ', '.join(str(c) for c in choices), value))
            out[key] = value
            out[key + '_source'] = 'explicit (kubenode_%s)' % key
            if known and configured != value:
                out['mismatch'].append({'key': key, 'chosen': value, 'configured': configured,
                                        'configured_source': source})
        elif known:
            out[key] = configured
            out[key + '_source'] = source
        else:
            out[key] = default
            out[key + '_source'] = 'assumed default; %s' % (
                'not detected on the node' if configured in (None, 'unknown')
                else 'the node\'s value %r is not one of the choices' % (configured,))
            out['assumed'].append(key)
    version = distribution_version if isinstance(distribution_version, str) and distribution_version.strip() else None
    if version:
        out['distribution_version'], out['distribution_version_source'] = version.strip(), 'explicit'
    elif isinstance(node.get('distribution_version'), str) and out['distribution'] == node.get('distribution'):
        out['distribution_version'] = node['distribution_version']
        out['distribution_version_source'] = node.get('distribution_version_source') or 'node_profile_facts'
    else:
        out['distribution_version'], out['distribution_version_source'] = None, 'unknown'
    if k3s_prefer_bundled_bin is not None and k3s_prefer_bundled_bin != '':
        out['k3s_prefer_bundled_bin'] = _as_auto_bool('k3s_prefer_bundled_bin', k3s_prefer_bundled_bin) is True
    else:
        out['k3s_prefer_bundled_bin'] = node.get('k3s_prefer_bundled_bin') is True
    out['proxy_mode_running'] = node.get('proxy_mode_running')
    return out


def _check_profile(profile: Dict[str, Any], out: _Collector) -> None:
    for item in profile.get('mismatch') or []:
        if not isinstance(item, dict):
            continue
        key = item.get('key')
        out.add('profile.mismatch.%s' % key, 'warning',
                'checked against %s %s (chosen explicitly), but the node is configured for %s (%s): this verdict is '
                'for the planned %s, not for what the node runs now.' % (
                    key, item.get('chosen'), item.get('configured'), item.get('configured_source'), key),
                'drop kubenode_%s to check the node as it is configured, or change its configuration to match the '
                'plan' % key)
    running = profile.get('proxy_mode_running')
    if running in MODES and running != profile.get('proxy_mode'):
        out.add('profile.mismatch.proxy_mode_running', 'warning',
                'the live rules show kube-proxy running in %s mode, but the node was checked for %s mode (%s).' % (
                    running, profile.get('proxy_mode'), profile.get('proxy_mode_source')),
                'check the mode kube-proxy really runs, or restart kube-proxy after changing its configuration')
    assumed = [key for key in (profile.get('assumed') or []) if isinstance(key, str)]
    if assumed:
        out.add('profile.assumed', 'info',
                'not detected on the node, so assumed: %s. The verdict holds for those values only.' % ', '.join(
                    '%s %s' % (key, str(profile.get(key)).lower() if isinstance(profile.get(key), bool)
                               else profile.get(key)) for key in assumed),
                'set kubenode_%s explicitly for this host (host or group variable)' % assumed[0])


# --------------------------------------------------------------------------------------------------------------
# The facts, checked once at the door: every key the evaluation reads has the type it reads it as, or a ValueError
# names the key (the filters turn it into an AnsibleFilterError). Unknown keys are ignored; absent keys are the
# checks' business (they become findings, never exceptions).

_ANY = object()
_STR, _INT, _BOOL, _NUM = (str,), (int,), (bool,), (int, float)
_LIST_OF_STR = ('list', _STR)
_TOOL = {'path': _STR + (type(None),), 'version': _STR + (type(None),), 'backend': _STR + (type(None),),
         'error': _STR + (type(None),), 'resolved': _STR + (type(None),)}
_KERNEL_SPEC = {
    'found': _BOOL, 'version': _STR + (type(None),), 'release': _STR + (type(None),), 'source': _STR + (type(None),),
    'error': _STR + (type(None),), 'modules_enabled': _BOOL + (type(None),), 'searched': ('list', _ANY),
    'options': ('dict', _STR),
    'modules': ('dict', {'state': _STR, 'reason': _STR + (type(None),), 'option': _STR + (type(None),)}),
    'xtables': {'available': _BOOL, 'ipv4': ('dict', _LIST_OF_STR), 'ipv6': ('dict', _LIST_OF_STR)},
    'next_boot': _STR + (type(None),),
    'next_boot_source': _STR + (type(None),),
}
_NETFILTER_SPEC = {
    'iptables': _TOOL, 'ip6tables': _TOOL, 'iptables_legacy': _TOOL, 'ip6tables_legacy': _TOOL, 'iptables_nft': _TOOL,
    'ip6tables_nft': _TOOL, 'nft': _TOOL, 'ipset': _TOOL,
    'bundled': ('dict', ('dict', _TOOL)), 'alternatives': ('dict', _STR + (type(None),)),
    'backends': ('dict', _ANY), 'sysctl': ('dict', _NUM + _STR + _BOOL + (type(None),)),
    'kube_chains': ('dict', _LIST_OF_STR), 'detected_mode': _STR + (type(None),),
    'detected_mode_by_rule_count': _STR + (type(None),), 'mode_reason': _STR + (type(None),),
    'mixed': _BOOL + (type(None),), 'rule_counts': ('dict', _NUM + (type(None),)),
    'nft_tables': ('list', {'family': _STR, 'name': _STR, 'owner': _STR + (type(None),),
                            'hooks': ('list', {'chain': _ANY, 'hook': _STR + (type(None),), 'priority': _ANY,
                                               'policy': _ANY})}),
    'iptables_nft_parse_errors': ('list', {'family': _ANY, 'table': _ANY, 'chain': _ANY, 'handle': _ANY}),
    'errors': ('list', _ANY), 'unreadable': ('list', {'what': _STR, 'cause': _STR + (type(None),)}),
}


def _kind(value: Any) -> str:
    return {dict: 'a dict', list: 'a list', str: 'a string', bool: 'a boolean', int: 'a number', float: 'a number',
            type(None): 'null'}.get(type(value), type(value).__name__)


def _check(value: Any, spec: Any, where: str) -> None:
    if spec is _ANY:
        return
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str) and spec[0] in ('list', 'dict'):
        kind, inner = spec
        if value is None:  # null containers are read as absent
            return
        if kind == 'list':
            if not isinstance(value, list):
                raise ValueError('%s must be a list, got %s' % (where, _kind(value)))
            for index, item in enumerate(value):
                _check(item, inner, '%s[%d]' % (where, index))
        else:
            if not isinstance(value, dict):
                raise ValueError('%s must be a dict, got %s' % (where, _kind(value)))
            for key, item in value.items():
                _check(item, inner, '%s[%r]' % (where, key))
        return
    if isinstance(spec, dict):
        if value is None:
            return
        if not isinstance(value, dict):
            raise ValueError('%s must be a dict, got %s' % (where, _kind(value)))
        for key, inner in spec.items():
            if key in value:
                _check(value[key], inner, '%s[%r]' % (where, key))
        return
    if not isinstance(value, spec) or (isinstance(value, bool) and bool not in spec):
        wanted = ' or '.join(sorted({'null' if t is type(None) else _kind(t()) for t in spec}))
        raise ValueError('%s must be %s, got %s %r' % (where, wanted, _kind(value), value))


def validate_facts(facts: Any) -> None:
    """Raise ValueError naming the key when a fact the evaluation reads has the wrong type."""
    if not isinstance(facts, dict):
        raise ValueError('facts must be a dict (the host\'s ansible_facts), got %s' % _kind(facts))
    for key, spec in (('kernel_config', _KERNEL_SPEC), ('netfilter', _NETFILTER_SPEC)):
        value = facts.get(key)
        if value is None:
            continue
        _check(value, spec, "ansible_facts['%s']" % key)
        if key == 'kernel_config' and value.get('installed') is not None:
            _check(value['installed'], ('dict', _KERNEL_SPEC), "ansible_facts['kernel_config']['installed']")
    for key in ('distribution', 'os_family', 'distribution_major_version'):
        if facts.get(key) is not None and not isinstance(facts[key], str):
            raise ValueError("ansible_facts['%s'] must be a string, got %s" % (key, _kind(facts[key])))


def check_arguments(proxy_mode: str, distribution: str, cni: str,
                    kube_router_image_backend: Optional[str] = None) -> None:
    for name, value, choices in (('proxy_mode', proxy_mode, MODES), ('distribution', distribution, DISTRIBUTIONS),
                                 ('cni', cni, CNI_CHOICES)):
        if value not in choices:
            raise ValueError('%s must be one of %s, got %r' % (name, ', '.join(choices), value))
    if kube_router_image_backend not in (None, '') + BACKENDS:
        raise ValueError('kube_router_image_backend must be one of %s (or unset), got %r'
                         % (', '.join(BACKENDS), kube_router_image_backend))


# --------------------------------------------------------------------------------------------------------------
# Fact sets present?

_NETFILTER_KEYS = ('iptables', 'nft', 'ipset', 'backends', 'sysctl', 'kube_chains', 'detected_mode', 'mixed',
                   'nft_tables', 'iptables_nft_parse_errors', 'unreadable')


def _check_fact_sets(ctx: _Context, out: _Collector) -> None:
    if ctx.nf is None:
        out.add('netfilter.facts_missing', 'error',
                'no netfilter facts: the tools, the backend in use, sysctls and foreign nft rules could not be '
                'checked, so nothing about them is known to pass.',
                'run kubenode.netfilter.netfilter_backend_facts on the host before computing findings')
        return
    missing = [key for key in _NETFILTER_KEYS if key not in ctx.nf]
    if missing:
        out.add('netfilter.facts_incomplete', 'error',
                'the netfilter facts lack %s: what depends on them could not be checked.' % ', '.join(missing),
                'gather the facts with this collection\'s kubenode.netfilter.netfilter_backend_facts (same version)')
    errors = [e for e in (ctx.nf.get('errors') or []) if e]
    if errors:
        out.add('netfilter.facts_errors', 'warning',
                'gathering the netfilter facts met %d problem(s): %s. What those commands would have shown could '
                'not be checked.' % (len(errors), '; '.join(str(e) for e in errors)),
                'run the facts as root (CAP_NET_ADMIN) and fix the failing command named above')
    _check_unreadable_facts(ctx, out)


FIX_PRIVILEGE = ('run the preflight with privilege escalation: ansible-playbook -b (--become), or tick "Privilege '
                 'Escalation" in the AWX/AAP job template; reading the rules needs root (CAP_NET_ADMIN), see '
                 'docs/privilege.md')
# What the netfilter facts could not read and what it hides: the backend in use and the Kubernetes chains (every
# mode: kubelet's hint, the CNI, kube-proxy), foreign rules in iptables' tables (the crash-loop incident).
_UNREADABLE_HIDES = (
    ('backends.', 'which iptables backend holds which rules'),
    ('kube_chains', 'where KUBE-IPTABLES-HINT and the canary chains are (the backend Kubernetes uses)'),
    ('nft_tables', 'foreign nft tables and their base chains'),
    ('iptables_nft_parse_errors', 'rules iptables-nft cannot read (the k3s crash loop)'),
)


def _check_unreadable_facts(ctx: _Context, out: _Collector) -> None:
    """What could not be checked never lets a node pass: facts that could not be read (no privilege, a timeout, a
    tool that failed) and that hide a requirement of every mode are an error. A tool that is simply not installed
    (cause ``absent``) is the tool checks' business."""
    items = [i for i in (ctx.nf.get('unreadable') or []) if isinstance(i, dict)]
    hidden = []
    causes = set()
    for item in items:
        what, cause = str(item.get('what') or ''), str(item.get('cause') or 'failed')
        if cause == 'absent':
            continue
        for prefix, meaning in _UNREADABLE_HIDES:
            if what.startswith(prefix):
                hidden.append('%s (%s: %s, %s)' % (meaning, what, item.get('command') or '?', cause))
                causes.add(cause)
                break
    if not hidden:
        if 'unreadable' in ctx.nf:
            out.add('netfilter.unreadable', 'ok', 'every rule set the checks need was read.')
        return
    out.add('netfilter.unreadable', 'error',
            'the netfilter facts could not read %s, so what they hide could not be checked and is not known to '
            'pass: %s.' % ('the rules without privilege' if causes == {'permission'} else 'part of the rules',
                           '; '.join(dict.fromkeys(hidden))),
            FIX_PRIVILEGE if 'permission' in causes else
            'fix or time out less: the command named above (netfilter_backend_facts command_timeout) and run again')


# --------------------------------------------------------------------------------------------------------------
# Kernel options and modules
# Outcome of one option, least bad first (a group of alternatives reports its least bad outcome).
_OUTCOMES = ('ok', 'ok_xtables', 'skip', 'not_autoloaded', 'load_disabled', 'unknown', 'module_unknown',
             'module_missing', 'missing')


def _registered(ctx: _Context, entry: KernelOption) -> Optional[str]:
    """'match statistic (ipv4)' when the running kernel registered one of the entry's xtables extensions."""
    xt = _get(ctx.kernel, 'xtables')
    if not isinstance(xt, dict) or not entry.xtables:
        return None
    for family in entry.families:
        names = xt.get(family)
        if not isinstance(names, dict):
            continue
        for kind, name in entry.xtables:
            if name in (names.get(kind + 'es' if kind == 'match' else kind + 's') or []):
                return '%s %s (%s)' % (kind, name, family)
    return None


def _option_outcome(ctx: _Context, entry: KernelOption) -> Tuple[str, str, Optional[str]]:
    """(outcome, evidence, module) for one catalog entry on this host."""
    kernel = ctx.kernel or {}
    module = entry.module_for_kernel(ctx.kernel_version)
    mod = _get(kernel, 'modules', module) if module else None
    mstate = mod.get('state') if isinstance(mod, dict) else None
    mreason = (mod.get('reason') if isinstance(mod, dict) else None) or ''
    reg = _registered(ctx, entry)
    cfg = 'CONFIG_' + entry.symbol
    if not kernel.get('found'):
        if mstate in ('builtin', 'loaded'):
            return 'ok', 'no kernel config, but %s' % mreason, module
        if reg:
            return 'ok_xtables', 'no kernel config, but the running kernel registered the xtables %s' % reg, module
        return 'unknown', 'no kernel config found', module
    options = kernel.get('options') if isinstance(kernel.get('options'), dict) else {}
    value = options.get(entry.symbol)
    if value is None:
        # kernel_config_facts reports every catalog symbol; a symbol it did not report could not be checked
        return 'unknown', '%s was not reported by kernel_config_facts' % cfg, module
    if entry.if_defined and value == 'absent':
        return 'skip', '%s does not exist on this kernel' % cfg, module
    if value == 'y':
        return 'ok', '%s=y (built in)' % cfg, module
    if value == 'm':
        if module is None:
            return 'ok', '%s=m' % cfg, module
        if mstate in ('builtin', 'loaded'):
            return 'ok', mreason or '%s=m, %s %s' % (cfg, module, mstate), module
        if mstate == 'loadable':
            if ctx.modules_disabled:
                return 'load_disabled', '%s; but kernel.modules_disabled=1: no module can be loaded until reboot' % (
                    mreason or cfg + '=m'), module
            if not entry.on_demand:
                return 'not_autoloaded', mreason or '%s=m, %s loadable' % (cfg, module), module
            return 'ok', '%s; the kernel loads %s on demand' % (mreason or cfg + '=m', module), module
        if mstate == 'missing':
            if reg:
                return 'ok_xtables', '%s, but the running kernel registered the xtables %s' % (mreason, reg), module
            return 'module_missing', mreason or '%s=m but %s.ko is not installed' % (cfg, module), module
        return 'module_unknown', mreason or 'no module state reported for %s' % module, module
    shown = {'n': '%s is not set' % cfg, 'absent': '%s is absent from the config' % cfg}.get(
        value, '%s=%s' % (cfg, value))
    if mstate in ('builtin', 'loaded'):
        return 'ok', '%s, but %s' % (shown, mreason), module
    if reg:
        return 'ok_xtables', '%s, but the running kernel registered the xtables %s' % (shown, reg), module
    return 'missing', shown, module


def _consequence(components: Sequence[str], mode: str, symbol: str) -> str:
    if symbol == 'BRIDGE_NETFILTER':
        return ('traffic between pods on the same Linux bridge skips iptables/nftables, so a pod reaching a Service '
                'whose endpoint is on the same node gets no reply')
    parts = []
    for comp in components:
        if comp == KP:
            if symbol == 'NETFILTER_XT_MATCH_STATISTIC':
                parts.append('kube-proxy\'s %s, so no Service load-balances on this node' % STATISTIC_FAILURE)
            elif mode == 'nftables':
                parts.append('kube-proxy\'s nft transaction is rejected, so Services do not work on this node')
            else:
                parts.append('kube-proxy\'s iptables-restore fails, so Services do not work on this node')
        elif comp == KL:
            parts.append('kubelet cannot create KUBE-IPTABLES-HINT and its canary chains, so components that pick '
                         'their backend with iptables-wrappers cannot tell which one the node uses')
        else:
            parts.append('the %s CNI cannot program its rules, so pod networking or network policy fails'
                         % comp.split(':', 1)[1])
    return '; '.join(parts)


def _load_remedy(ctx: _Context, module: Optional[str]) -> Optional[Dict[str, Any]]:
    """Load ``module`` now (when it is loadable and loading is possible) and at every boot; None for a module that is
    built in or whose state is not known."""
    state = _get(ctx.kernel, 'modules', module, 'state') if module else None
    if state not in ('loadable', 'loaded'):
        return None
    return remedy('load_module', module=module, state=state, now=state == 'loadable' and not ctx.modules_disabled,
                  persist=True)


def _package_remedy(ctx: _Context, module: str, symbol: str) -> Optional[Dict[str, Any]]:
    """Install the package that ships ``module`` for the running release, where the OS splits such modules out and
    the option is ``m`` (the file is just not installed); None when no package can add it."""
    kernel = ctx.kernel or {}
    value = _get(kernel, 'options', symbol)
    release = str(kernel.get('release') or '')
    if value != 'm' or kernel.get('modules_enabled') is False:
        return None
    package = extra_modules_package(ctx.os_distribution, ctx.os_family, release)
    if package is None:
        return None
    return remedy('install_package', packages=[package], module=module, release=release)


def _fix_module_missing(ctx: _Context, module: str, symbol: str) -> str:
    if _package_remedy(ctx, module, symbol) is not None:
        return FIX_INSTALL_EXTRA
    release = (ctx.kernel or {}).get('release') or 'the running kernel'
    if (ctx.kernel or {}).get('modules_enabled') is False:
        return ('the kernel was built without module support (CONFIG_MODULES is not set), so no module can be '
                'loaded: boot a kernel with CONFIG_%s=y, or one with module support' % symbol)
    return ('CONFIG_%s=m but %s.ko is not installed for %s: install the kernel modules package that matches the '
            'running kernel (or reboot into the kernel whose modules are installed)' % (symbol, module, release))


def _check_kernel(ctx: _Context, out: _Collector, backend: str, backend_reason: str) -> None:
    if ctx.kernel is None:
        out.add('kernel.facts_missing', 'error',
                'no kernel_config facts: no kernel option or module could be checked, so none is known to pass.',
                'run kubenode.netfilter.kernel_config_facts on the host before computing findings')
        return
    selected = []  # type: List[KernelOption]
    for family in ctx.families:
        selected.extend(options_for(ctx.mode, backend, family, cni=ctx.cni, kernel_version=ctx.kernel_version,
                                    distribution=ctx.distribution))
    # units: one per symbol, or one per set of alternatives (the same set may come from several components)
    groups = {}  # type: Dict[Tuple[str, str], List[KernelOption]]
    for entry in selected:
        if entry.any_of:
            groups.setdefault((entry.component, entry.any_of), []).append(entry)
    units = {}  # type: Dict[Tuple[str, ...], List[KernelOption]]
    order = []  # type: List[Tuple[str, ...]]
    for entry in selected:
        if entry.any_of:
            members = groups[(entry.component, entry.any_of)]
            key = tuple(dict.fromkeys(e.symbol for e in members))
        else:
            key = (entry.symbol,)
        if key not in units:
            units[key] = []
            order.append(key)
        if entry not in units[key]:
            units[key].append(entry)
    unknown = []  # type: List[str]
    for key in order:
        entries = units[key]
        components = list(dict.fromkeys(e.component for e in entries))
        # the unit's severity when missing: the worst of its entries' (an entry of kube-proxy needing a symbol makes it
        # an error even where kubelet's own need of it is only a warning)
        severity = min((e.missing_severity for e in entries), key=_SEVERITY_RANK.get)
        required = severity != 'info'
        results = []
        seen = set()
        for entry in entries:
            if entry.symbol in seen:
                continue
            seen.add(entry.symbol)
            outcome, evidence, module = _option_outcome(ctx, entry)
            results.append((_OUTCOMES.index(outcome), outcome, evidence, module, entry))
        results.sort(key=lambda r: r[0])
        if (ctx.kernel or {}).get('found') and any(r[3] is not None for r in results):
            # a transitional or renamed symbol set to m (IP_NF_TARGET_MASQUERADE=m on >= 5.1) builds no module of its
            # own: it selects the member that does, so only that member's module state can tell whether it works
            results = [r for r in results if r[3] is not None
                       or _get(ctx.kernel, 'options', r[4].symbol) != 'm'] or results
        _rank, outcome, evidence, module, entry = results[0]
        symbol = key[0]
        alts = ' or '.join('CONFIG_' + s for s in key)
        sources = '; '.join(dict.fromkeys(e.source for e in entries))
        notes = '; '.join(dict.fromkeys(piece.strip(' .') for e in entries for piece in e.note.split('; ')
                                        if piece.strip(' .')))
        need = '%s need%s %s in %s mode%s%s' % (
            ', '.join(components), 's' if len(components) == 1 else '', alts, ctx.mode,
            '' if set(entry.backends) == set(BACKENDS) else ' with the %s iptables backend (%s)' % (
                backend, backend_reason),
            (' (' + notes + ')') if notes else '')
        if outcome == 'skip':
            continue
        if outcome == 'ok':
            out.add('kernel.option_ok.' + symbol, 'ok', '%s; found: %s.' % (need, evidence),
                    remedy=_load_remedy(ctx, module) if required else None)
            continue
        if outcome == 'ok_xtables':
            out.add('kernel.option_via_xtables.' + symbol, 'info',
                    '%s; found: %s. Supported by the running kernel; the config file read may not be this kernel\'s '
                    '(source: %s).' % (need, evidence, ctx.kernel.get('source')),
                    'nothing to do; to silence this, point kernel_config_facts at the running kernel\'s config '
                    '(config_path)')
            continue
        if outcome == 'unknown':
            unknown.append(alts)
            continue
        consequence = _consequence(components, ctx.mode, symbol)
        if not required and outcome in ('not_autoloaded', 'load_disabled'):
            out.add('kernel.module_not_autoloaded.' + str(module), 'info',
                    '%s; found: %s, not loaded, and nothing loads it on demand. Optional here: only the case named '
                    'needs it (source: %s).' % (need, evidence, sources),
                    'nothing to do unless that case is yours; then: ' + FIX_LOAD_MODULES)
        elif not required:
            out.add(('kernel.module_missing.' + str(module)) if outcome == 'module_missing'
                    else 'kernel.option_missing.' + symbol, 'info',
                    '%s; found: %s. Optional: only the feature named is affected (source: %s).'
                    % (need, evidence, sources),
                    FIX_KERNEL_REBUILD + ', if you use that feature')
        elif outcome == 'missing':
            out.add('kernel.option_missing.' + symbol, severity,
                    '%s; found: %s. Consequence: %s (source: %s).' % (need, evidence, consequence, sources),
                    FIX_KERNEL_REBUILD + '; no module can add a symbol the kernel was built without')
        elif outcome == 'module_missing':
            out.add('kernel.module_missing.' + str(module), severity,
                    '%s; found: %s (built as a module whose file is not installed). Consequence: %s (source: %s).'
                    % (need, evidence, consequence, sources), _fix_module_missing(ctx, str(module), entry.symbol),
                    remedy=_package_remedy(ctx, str(module), entry.symbol))
        elif outcome == 'module_unknown':
            out.add('kernel.module_unknown.' + str(module), severity,
                    '%s; found: %s; whether module %s can be loaded could not be checked.' % (need, evidence, module),
                    're-run kubenode.netfilter.kernel_config_facts with the node\'s root (root: /host when run '
                    'from a pod) so /lib/modules is visible')
        elif outcome == 'load_disabled':
            out.add('kernel.module_not_autoloaded.' + str(module), 'warning',
                    '%s; found: %s. Consequence if it is not loaded before the node starts: %s.' % (
                        need, evidence, consequence),
                    'load it at boot before kernel.modules_disabled is set (kubenode_kernel_modules_remediate: '
                    'true, role kubenode.netfilter.kernel_modules, writes /etc/modules-load.d/), then reboot',
                    remedy=_load_remedy(ctx, module))
        elif outcome == 'not_autoloaded':
            if module in ctx.dist.loads_modules:
                out.add('kernel.module_not_autoloaded.' + str(module), 'info',
                        '%s; found: %s. Nothing loads it on demand, but k3s runs modprobe %s when it starts (%s).' % (
                            need, evidence, module, SRC_K3S_SYSSETUP),
                        'nothing to do for k3s; to have it loaded at boot anyway: ' + FIX_LOAD_MODULES,
                        remedy=_load_remedy(ctx, module))
            else:
                out.add('kernel.module_not_autoloaded.' + str(module), 'warning',
                        '%s; found: %s, and nothing loads %s on demand. Consequence until it is loaded: %s.' % (
                            need, evidence, module, consequence), FIX_LOAD_MODULES,
                        remedy=_load_remedy(ctx, module))
    if unknown:
        searched = ctx.kernel.get('searched') or []
        out.add('kernel.config_unknown', 'error',
                'no kernel config was found (%s), so %d requirement(s) of %s mode could not be checked and are not '
                'known to pass: %s.' % (
                    ctx.kernel.get('error') or '%d paths searched' % len(searched), len(unknown), ctx.mode,
                    ', '.join(unknown)),
                'point kubenode.netfilter.kernel_config_facts at the config (config_path), or make '
                '/proc/config.gz appear by loading the configs module (kubenode_kernel_modules_load_configs: true '
                'with kubenode_kernel_modules_remediate: true, role kubenode.netfilter.kernel_modules)',
                remedy=None if ctx.kernel.get('modules_enabled') is False
                else remedy('load_configs', module='configs', unchecked=unknown))


def _check_kernel_versions(ctx: _Context, out: _Collector) -> None:
    reqs = [r for r in version_requirements_for(ctx.mode, ctx.cni if ctx.cni != 'other' else None)
            if r.what == 'kernel']
    if not reqs:
        return
    version = ctx.kernel_version
    vt = version_tuple(version)
    if vt is None:
        out.add('kernel.version_unknown', 'error',
                'the kernel version is unknown (no config header and no release), so %s could not be checked.' % (
                    '; '.join('%s needs kernel >= %s' % (r.component, r.minimum) for r in reqs)),
                'run kubenode.netfilter.kernel_config_facts on the node itself (or give kernel_release)')
        return
    low = [r for r in reqs if vt < version_tuple(r.minimum)]  # type: ignore[operator]
    if low:
        out.add('kernel.version_too_old', 'error',
                'kernel %s is older than %s. Consequence: %s (sources: %s).' % (
                    version, ', '.join('%s, which %s needs' % (r.minimum, r.component) for r in low),
                    '; '.join(('kube-proxy refuses to start in nftables mode' if r.component == KP
                               else '%s does not start' % r.component.split(':', 1)[-1]) for r in low),
                    '; '.join(dict.fromkeys(r.source + (' (' + r.note + ')' if r.note else '') for r in low))),
                'upgrade the node\'s kernel (>= %s)%s' % (
                    max((r.minimum for r in low), key=version_tuple),  # type: ignore[arg-type]
                    ', or use kube-proxy\'s iptables mode (kubenode_proxy_mode: iptables)'
                    if any(r.component == KP for r in low) else ''))
    else:
        out.add('kernel.version_ok', 'ok', 'kernel %s meets %s.' % (
            version, ', '.join('>= %s (%s)' % (r.minimum, r.component) for r in reqs)))


# --------------------------------------------------------------------------------------------------------------
# Tools

def _tool_need(ctx: _Context, tool: str) -> List[Tuple[str, str]]:
    """(severity if the host lacks the tool, who needs it and why) for every component that needs ``tool``."""
    needs = []  # type: List[Tuple[str, str]]
    runs = ctx.kp_runs
    kp_tools = ctx.mode_row.kube_proxy_tools + (ctx.mode_row.ipv6_tools if ctx.ipv6 else ())
    if tool in kp_tools and runs in ('host', 'k3s'):
        where = 'on the host' if runs == 'host' else 'in-process in k3s (host binaries first, else k3s\'s bundled)'
        needs.append(('error', 'kube-proxy runs %s and calls %s in %s mode' % (where, tool, ctx.mode)))
    if tool in ('iptables', 'ip6tables') and (tool == 'iptables' or ctx.ipv6):
        # the hint matters to whatever picks its backend with iptables-wrappers: kube-proxy images in iptables
        # and ipvs mode (a warning), only iptables-based CNIs otherwise (their own severity below)
        needs.append((ctx.mode_row.hint_severity,
                      'kubelet creates KUBE-IPTABLES-HINT and KUBE-KUBELET-CANARY with the host\'s %s (%s); without '
                      'them, components in images that use iptables-wrappers cannot tell the node\'s backend'
                      % (tool, SRC_KUBELET_HINT)))
        severity, why = ctx.cni_row.host_iptables, ctx.cni_row.host_iptables_why
        needs.append((severity, why))
    return needs


def _worst(needs: Sequence[Tuple[str, str]]) -> str:
    worst = 'ok'
    for severity, _why in needs:
        if _worse(severity, worst):
            worst = severity
    return worst


def _tool_version_check(ctx: _Context, out: _Collector, tool: str, info: Dict[str, Any], where: str) -> None:
    reqs = [r for r in VERSION_REQUIREMENTS if r.what == tool and ctx.mode in r.modes and r.component == KP]
    version = info.get('version')
    for req in reqs:
        if version_tuple(version) is None:
            out.add('tool.version_unknown.' + tool, 'error',
                    '%s at %s reported no version, so kube-proxy\'s minimum %s >= %s could not be checked.' % (
                        tool, info.get('path'), tool, req.minimum), FIX_TOOLS)
        elif version_tuple(version) < version_tuple(req.minimum):  # type: ignore[operator]
            out.add('tool.version_too_old.' + tool, 'error',
                    '%s %s (%s, %s) is older than %s, the minimum kube-proxy\'s %s mode needs (%s%s). Consequence: '
                    'kube-proxy refuses to start in %s mode.' % (
                        tool, version, info.get('path'), where, req.minimum, ctx.mode, req.source,
                        '; ' + req.note if req.note else '', ctx.mode),
                    'install nft >= %s: %s' % (req.minimum, FIX_TOOLS),
                    remedy=_tool_remedy(ctx, tool, minimum=req.minimum))
        else:
            out.add('tool.version_ok.' + tool, 'ok', '%s %s (%s) meets kube-proxy\'s minimum %s.' % (
                tool, version, info.get('path'), req.minimum))
    if tool == 'nft' and version in NFT_KNOWN_BAD:
        why, source = NFT_KNOWN_BAD[version]
        out.add('tool.known_bad.nft', 'warning',
                'nft %s (%s) is used by kube-proxy: %s (%s). Consequence: kube-proxy\'s nftables mode fails unless '
                'its release carries that fix.' % (version, info.get('path'), why, source),
                'run a kube-proxy release with kubernetes/kubernetes#137501, or install another nft release: '
                + FIX_TOOLS)


def _tool_remedy(ctx: _Context, tool: str, optional: bool = False,
                 minimum: Optional[str] = None) -> Dict[str, Any]:
    """Install ``tool`` with the OS's package (None when the OS is unknown or not in the catalog's package table).
    ``optional``: the node works without it (a distribution brings its own); installed only when asked for."""
    packages = tool_packages(ctx.os_distribution, ctx.os_family, ctx.os_major)
    return remedy('install_tool', tool=tool, package=(packages or {}).get(tool), optional=optional,
                  minimum=minimum)


def _check_tools(ctx: _Context, out: _Collector) -> None:
    if ctx.nf is None:
        return
    for tool in ('iptables', 'ip6tables', 'ipset', 'nft'):
        needs = _tool_need(ctx, tool)
        if not needs:
            continue
        severity = _worst(needs)
        status, info = ctx.tool(tool)
        kp_uses = tool != 'ipset' and ctx.kp_runs in ('host', 'k3s') and any('kube-proxy' in w for _s, w in needs)
        kp_uses = kp_uses or (tool == 'ipset' and ctx.kp_runs in ('host', 'k3s') and ctx.mode == 'ipvs')
        why = '; '.join(w for _s, w in needs)
        bundled = ctx.bundled(tool) if ctx.dist.bundled_tools else None
        if ctx.distribution == 'k3s' and ctx.prefer_bundled and bundled is not None:
            out.add('tool.missing.' + tool, 'ok', 'k3s runs with --prefer-bundled-bin and its bundled %s is at %s.'
                    % (tool, bundled.get('path')))
            if kp_uses:
                _tool_version_check(ctx, out, tool, bundled, 'bundled with k3s')
            continue
        if status == 'unknown':
            out.add('tool.missing.' + tool, severity,
                    'the netfilter facts do not report %s, so whether the host has it could not be checked (%s).'
                    % (tool, why), 'gather kubenode.netfilter.netfilter_backend_facts of this collection')
            continue
        if status == 'broken':
            out.add('tool.broken.' + tool, severity,
                    '%s exists at %s but would not run: %s. Its version and backend could not be checked, and the '
                    'components that need it (%s) would run it the same way.' % (
                        tool, info.get('path') if info else '?', info.get('error') if info else '?', why),
                    'repair or reinstall it: ' + FIX_TOOLS, remedy=_tool_remedy(ctx, tool))
            continue
        if status == 'ok':
            out.add('tool.missing.' + tool, 'ok', '%s %s at %s.' % (tool, info.get('version'), info.get('path')))
            if kp_uses:
                _tool_version_check(ctx, out, tool, info, 'the host\'s')
            continue
        # missing on the host
        if bundled is not None:
            out.add('tool.missing.' + tool, 'info',
                    'the host has no %s; %s falls back to its bundled %s at %s (%s).' % (
                        tool, ctx.distribution, tool, bundled.get('path'),
                        SRC_K3S_PATH if ctx.distribution == 'k3s' else 'k0s bundled userspace'),
                    'nothing to do; install the host\'s own only if other tools need it: ' + FIX_TOOLS,
                    remedy=_tool_remedy(ctx, tool, optional=True))
            if kp_uses and ctx.distribution == 'k3s':
                _tool_version_check(ctx, out, tool, bundled, 'bundled with k3s')
            continue
        if ctx.distribution == 'k3s' and tool == 'nft':
            has = _series_has(ctx.version, K3S_NFT_BUNDLED)
            if has:
                out.add('tool.missing.nft', 'info',
                        'the host has no nft; k3s %s bundles nft in data/current/bin/aux (%s), which kube-proxy '
                        'uses.' % (ctx.version, SRC_K3S_NFT_BUNDLE),
                        'nothing to do; to verify, gather netfilter_backend_facts with search_paths: '
                        '[/var/lib/rancher/k3s/data/current/bin/aux]', remedy=_tool_remedy(ctx, 'nft', optional=True))
                continue
            if has is False:
                sev, what = severity, 'k3s %s does not bundle nft (first releases that do: %s; %s)' % (
                    ctx.version, _first_release(K3S_NFT_BUNDLED), SRC_K3S_NFT_BUNDLE)
            else:
                # could not be told: not known to pass, so the severity of the need itself
                sev, what = severity, (
                    'whether this k3s bundles nft could not be told (distribution_version unknown; k3s bundles it '
                    'from %s; give kubenode_distribution_version or gather the bundled directories)'
                    % _first_release(K3S_NFT_BUNDLED))
            out.add('tool.missing.nft', sev,
                    'the host has no nft and %s. Needed by: %s. Consequence: kube-proxy exits "could not find '
                    'nftables binary".' % (what, why),
                    'install nft on the host (%s), or upgrade k3s to a release that bundles it' % FIX_TOOLS,
                    remedy=_tool_remedy(ctx, 'nft'))
            continue
        if tool in ctx.dist.bundled_tools \
                and not ctx.bundled_reported():
            out.add('tool.missing.' + tool, 'info',
                    'the host has no %s; %s ships its own for the components it runs on the host (%s). Needed '
                    'by: %s.' % (tool, ctx.distribution, SRC_K3S_PATH if ctx.distribution == 'k3s'
                                 else 'k0s pkg/component/iptables', why),
                    'nothing to do; to verify, gather netfilter_backend_facts with search_paths (k3s: '
                    '/var/lib/rancher/k3s/data/current/bin/aux, k0s: /var/lib/k0s/bin)',
                    remedy=_tool_remedy(ctx, tool, optional=True))
            continue
        out.add('tool.missing.' + tool, severity,
                'the host has no %s. Needed by: %s.' % (tool, why),
                'install %s: %s' % (tool, FIX_TOOLS),
                remedy=None if severity == 'info' else _tool_remedy(ctx, tool))
    _check_no_userspace(ctx, out)


def _check_no_userspace(ctx: _Context, out: _Collector) -> None:
    """No iptables and no nft at all: an error in every mode but none."""
    if ctx.mode == 'none':
        return
    host = [t for t in ('iptables', 'nft') if ctx.tool(t)[0] in ('ok', 'broken')]
    if host or ctx.tool('iptables')[0] == 'unknown':
        return
    bundled = [t for t in ('iptables', 'nft') if ctx.bundled(t) is not None]
    if ctx.dist.bundled_tools and (bundled or not ctx.bundled_reported()):
        return  # k3s / k0s bring their own (bundled facts show them, or were not gathered: see tool.missing.*)
    out.add('tool.missing.netfilter_userspace', 'error',
            'the host has neither iptables nor nft%s: nothing can program or even inspect netfilter, so kube-proxy '
            '(%s mode), kubelet\'s KUBE-IPTABLES-HINT and the CNI have no way to install rules. Consequence: Services '
            'and pod networking do not work.' % (
                ' (bundled tools reported: none)' if ctx.bundled_reported() else '', ctx.mode),
            'install the tools for this mode: ' + FIX_TOOLS)


# --------------------------------------------------------------------------------------------------------------
# Backend, kube chains, unreadable rules

FIX_OTHER_BACKEND = ('drain the node, remove the Kubernetes chains and rules from the %(other)s backend (review '
                     'them with %(other_save)s first), then restart kubelet and the pods of kube-proxy and the CNI so '
                     'they recreate them in %(host)s; or, if %(other)s is the backend the cluster should use, switch '
                     'the host\'s iptables to it: kubenode_iptables_backend: %(other)s (role '
                     'kubenode.netfilter.netfilter_tools)')


def _save_tool(backend: str) -> str:
    return 'iptables-legacy-save' if backend == 'legacy' else 'iptables-nft-save'


def _check_backend(ctx: _Context, out: _Collector, backend: str, backend_reason: str) -> None:
    nf = ctx.nf
    if nf is None:
        return
    host = ctx.host_backend()
    holders = ctx.chain_holders()
    counts = nf.get('rule_counts') if isinstance(nf.get('rule_counts'), dict) else {}
    if nf.get('mixed'):
        other = 'legacy' if backend == 'nft' else 'nft'
        out.add('netfilter.mixed_backends', 'error',
                'both iptables backends hold rules (legacy: %s, nf_tables: %s). Kubernetes uses %s on this node (%s); '
                'the rules in %s are invisible to it and to the host\'s iptables, yet packets still traverse them. '
                'Consequence: stale or foreign rules in the other backend DNAT, drop or mark traffic behind '
                'kube-proxy\'s and the CNI\'s back (Services and pods fail intermittently, and iptables -L shows '
                'nothing wrong).' % (counts.get('legacy', '?'), counts.get('nft', '?'), backend, backend_reason,
                                     other),
                'find who writes the %(other)s rules (%(save)s), configure that tool to use %(b)s (for the host\'s '
                'own iptables: kubenode_iptables_backend: %(b)s, role kubenode.netfilter.netfilter_tools), then '
                'remove the stale %(other)s rules after review (or reboot once nothing recreates them); this '
                'collection deletes nothing there by itself' % {'other': other, 'save': _save_tool(other),
                                                                'b': backend})
    elif 'mixed' in nf:
        out.add('netfilter.mixed_backends', 'ok', 'only one iptables backend holds rules (legacy: %s, nf_tables: %s).'
                % (counts.get('legacy', '?'), counts.get('nft', '?')))
    if host and holders:
        wrong = dict((name, [b for b in held if b != host]) for name, held in holders.items())
        wrong = dict((name, held) for name, held in wrong.items() if held)
        if wrong:
            other = sorted({b for held in wrong.values() for b in held})[0]
            ipt = _get(nf, 'iptables') or {}
            out.add('netfilter.hint_in_other_backend', 'error',
                    '%s exist in the %s backend, but the host\'s iptables (%s -> %s) uses %s. Consequence: kubelet '
                    'writes with the host\'s iptables (%s) while kube-proxy and CNI images that use '
                    'iptables-wrappers follow the chains (%s), so the node ends up with rules in both backends and '
                    'components that cannot see each other\'s chains (%s).' % (
                        ', '.join('%s (%s)' % (n, '+'.join(h)) for n, h in sorted(wrong.items())), other,
                        ipt.get('path'), ipt.get('resolved'), host, host, other, SRC_WRAPPER),
                    FIX_OTHER_BACKEND % {'other': other, 'other_save': _save_tool(other), 'host': host},
                    remedy=remedy('iptables_alternative', backend=other))
        else:
            out.add('netfilter.hint_in_other_backend', 'ok', '%s exist only in %s, the backend of the host\'s '
                    'iptables.' % (', '.join(sorted(holders)), host))
    by_count = nf.get('detected_mode_by_rule_count')
    if by_count in BACKENDS and by_count != nf.get('detected_mode'):
        out.add('netfilter.wrapper_disagreement', 'warning',
                'the current iptables-wrappers (Go, %s) picks %s here, but the older shell '
                'iptables-wrapper-installer.sh still found in some images picks %s (%s). Consequence: pods with old '
                'images and pods with new ones program different backends.' % (
                    SRC_WRAPPER, nf.get('detected_mode'), by_count, nf.get('rule_count_reason') or 'rule counts'),
                'let kubelet create KUBE-IPTABLES-HINT (it decides both wrappers) and remove the stale rules of the '
                'backend not in use; update old images (for kube-router: kubenode_kube_router_remediate: true, role '
                'kubenode.netfilter.kube_router)')
    detected = nf.get('detected_mode')
    if not holders and host and detected in BACKENDS and detected != host:
        out.add('netfilter.backend_before_join', 'info',
                'the node has not joined yet (no KUBE-IPTABLES-HINT or canary chain). iptables-wrappers would pick %s '
                'on this host as it is (%s), but kubelet creates KUBE-IPTABLES-HINT with the host\'s iptables (%s) '
                'first and every wrapper then follows it: the kernel was checked for the %s backend.' % (
                    detected, nf.get('mode_reason') or 'no chains', host, host),
                'nothing to do, unless the cluster should use %s: then kubenode_iptables_backend: %s (role '
                'kubenode.netfilter.netfilter_tools) before the node joins' % (detected, detected))
    if ctx.cni == 'kube-router':
        if ctx.kr_backend in BACKENDS:
            if ctx.kr_backend != backend:
                out.add('netfilter.kube_router_backend_mismatch', 'error',
                        'the kube-router image uses iptables-%s, but this node uses %s (%s; detected mode: %s). '
                        'Consequence: kube-router programs its policy and service rules into the other backend, '
                        'the node\'s rules end up mixed, and kube-router crash-loops on hosts where that backend is '
                        'absent (the k0s incident with quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0).' % (
                            ctx.kr_backend, backend, backend_reason, detected),
                        'set kubenode_kube_router_remediate: true with kubenode_kube_router_fix: wrapper (run '
                        'iptables-wrapper before kube-router) or image (kubenode_kube_router_fixed_image) (role '
                        'kubenode.netfilter.kube_router)%s' % (
                            '; on k0s make it durable with a fixed image in the ClusterConfig '
                            '(spec.images.kuberouter) or a k0s upgrade' if ctx.distribution == 'k0s' else ''),
                        remedy=remedy('patch_daemonset', image_backend=ctx.kr_backend, node_backend=backend))
            else:
                out.add('netfilter.kube_router_backend_mismatch', 'ok', 'the kube-router image uses %s, like the '
                        'node.' % backend)
        else:
            out.add('netfilter.kube_router_backend_unchecked', 'info',
                    'which iptables backend the kube-router image uses was not given, so it was not compared with '
                    'the node\'s (%s).' % backend,
                    'pass kube_router_image_backend, or run the kube_router detection of role '
                    'kubenode.netfilter.kube_router against the cluster')
    _check_unreadable(ctx, out)


def _check_unreadable(ctx: _Context, out: _Collector) -> None:
    nf = ctx.nf or {}
    errors = [e for e in (nf.get('iptables_nft_parse_errors') or []) if isinstance(e, dict)]
    incompatible = []
    for ipver, family in (('ipv4', 'ip'), ('ipv6', 'ip6')):
        tables = _get(nf, 'backends', 'nft', ipver, 'tables')
        if isinstance(tables, dict):
            for name in sorted(tables):
                if isinstance(tables[name], dict) and tables[name].get('incompatible'):
                    incompatible.append('%s %s (%s)' % (family, name, tables[name].get('incompatible_reason')))
    if not errors and not incompatible:
        if 'iptables_nft_parse_errors' in nf:
            out.add('netfilter.iptables_nft_unreadable', 'ok', 'iptables-nft can read all of its tables.')
        return
    rules = []
    for item in errors:
        error = str(item.get('error') or item.get('expected_error') or 'unreadable')
        rules.append('%s %s chain %s handle %s: "%s" -> %s (writer: %s)' % (
            item.get('family'), item.get('table'), item.get('chain'), item.get('handle'),
            item.get('rule') or '?', ' / '.join(error.splitlines()), item.get('writer') or 'unknown'))
    versions = sorted({str(item.get('iptables_nft_version')) for item in errors if item.get('iptables_nft_version')})
    out.add('netfilter.iptables_nft_unreadable', 'error',
            'iptables-nft%s cannot read its own tables (%s): another tool wrote native nft rules into them. Rules: '
            '%s. Consequence: every iptables -C / -S / -save that reaches them fails or skips the table, which '
            'hurts kube-proxy in iptables mode, kube-router and k3s\'s network policy controller (crash loop), '
            'kubelet\'s KUBE-IPTABLES-HINT and anything else calling iptables -C.' % (
                (' ' + '/'.join(versions)) if versions else '', ', '.join(incompatible) or 'see the rules',
                '; '.join(rules) or 'none named (see netfilter_backend_facts)'),
            FIX_NFT_CONFLICTS,
            remedy=remedy('remove_nft_rules', rules=[
                {'family': item.get('family'), 'table': item.get('table'), 'chain': item.get('chain'),
                 'handle': item.get('handle')} for item in errors if item.get('handle') is not None])
            if errors else None)


def _check_nft_tables(ctx: _Context, out: _Collector) -> None:
    tables = _get(ctx.nf, 'nft_tables')
    if not isinstance(tables, list):
        return
    threshold = ctx.mode_row.filter_priority
    for table in tables:
        if not isinstance(table, dict) or table.get('owner') != 'foreign':
            continue
        family, name = table.get('family'), table.get('name')
        hooks = [h for h in (table.get('hooks') or []) if isinstance(h, dict)]
        shown = ', '.join('%s hook %s priority %s policy %s' % (h.get('chain'), h.get('hook'), h.get('priority'),
                                                                h.get('policy')) for h in hooks) or 'no base chain'
        fid = 'netfilter.foreign_table.%s.%s' % (family, name)
        if family in ('ip', 'ip6'):
            out.add(fid, 'error',
                    'table %s %s belongs to another tool (%d chains, %s rules; %s) and sits in iptables\' own family '
                    '%s, beside iptables-nft\'s tables and kube-proxy\'s. Tools that write ip/ip6 tables are the '
                    'ones that also write into iptables-nft\'s tables (the Netbird incident), and their base chains '
                    'act on the same packets without iptables -L/-S ever showing them. Consequence: drops, marks or '
                    'NAT there override kube-proxy and the CNI invisibly.' % (
                        family, name, table.get('chains') or 0, table.get('rules'), shown, family),
                    'configure the tool that owns it to keep its rules in a table of its own in family inet (or '
                    'confirm it is intended: this finding stays an error while it sits in %s); never "nft flush '
                    'ruleset"' % family)
            continue
        dropping = []
        for h in hooks:
            prio = _priority_value(h.get('priority'))
            if h.get('hook') in ('input', 'forward') and str(h.get('policy')) == 'drop' and prio is not None \
                    and prio <= threshold:
                dropping.append('%s (hook %s, priority %s)' % (h.get('chain'), h.get('hook'), h.get('priority')))
        if dropping:
            out.add(fid, 'warning',
                    'table %s %s belongs to another tool and has drop-policy chains on %s that run at or before '
                    'kube-proxy\'s filter chains (priority %d in %s mode). Consequence: Service, NodePort and pod '
                    'traffic it does not explicitly accept is dropped before kube-proxy sees it.' % (
                        family, name, ', '.join(dropping), threshold, ctx.mode),
                    'make the tool accept pod and Service traffic (the pod and service CIDRs, the CNI interfaces), '
                    'or give its chains a priority after kube-proxy\'s; this collection does not change foreign '
                    'tables')
        else:
            out.add(fid, 'info',
                    'table %s %s belongs to another tool (%s); it has no drop-policy chain on input or forward at or '
                    'before kube-proxy\'s filter priority (%d in %s mode), so it is listed for the record.' % (
                        family, name, shown, threshold, ctx.mode),
                    'nothing to do')


# --------------------------------------------------------------------------------------------------------------
# Sysctls

def _sysctl_remedy(name: str, value: Optional[int]) -> Dict[str, Any]:
    """Set ``name`` to 1 now and at every boot (net.bridge.* exist only once br_netfilter is loaded)."""
    return remedy('sysctl', key=name, value=1, current=value,
                  requires_module='br_netfilter' if name.startswith('net.bridge.') else None)


def _check_sysctls(ctx: _Context, out: _Collector) -> None:
    if ctx.nf is None:
        return
    sysctl = ctx.nf.get('sysctl')
    if not isinstance(sysctl, dict):
        out.add('sysctl.unknown', 'error', 'the netfilter facts carry no sysctl values, so IP forwarding and '
                'bridge netfilter could not be checked.', 'gather kubenode.netfilter.netfilter_backend_facts')
        return
    sets_sysctls = ctx.dist.sets_sysctls
    forwarding = [('net.ipv4.ip_forward', 'IPv4')]
    if ctx.ipv6:
        forwarding.append(('net.ipv6.conf.all.forwarding', 'IPv6'))
    for name, label in forwarding:
        value = _sysctl_int(sysctl.get(name))
        if value == 1:
            out.add('sysctl.' + name, 'ok', '%s = 1.' % name,
                    remedy=_sysctl_remedy(name, value))
        elif value is None:
            out.add('sysctl.' + name, 'error', '%s could not be read, so %s forwarding could not be checked and is '
                    'not known to work.' % (name, label), 'gather the facts as root on the node itself',
                    remedy=_sysctl_remedy(name, value))
        elif sets_sysctls:
            out.add('sysctl.' + name, 'info', '%s = %s; k3s sets %s forwarding to 1 when it starts (%s).' % (
                name, value, label, SRC_K3S_SYSSETUP), 'nothing to do for k3s; to persist it anyway: ' + FIX_SYSCTL,
                remedy=_sysctl_remedy(name, value))
        else:
            out.add('sysctl.' + name, 'error',
                    '%s = %s: the node does not forward %s packets. Consequence: pod-to-pod traffic across nodes and '
                    'Service traffic to pods are dropped (%s; %s).' % (
                        name, value, label, SRC_K8S_RUNTIME_DOC, SRC_KUBEADM_PREFLIGHT),
                    'set %s = 1: %s' % (name, FIX_SYSCTL),
                    remedy=_sysctl_remedy(name, value))
    if ctx.mode != 'none' and ctx.cni_row.bridge is not False:
        bridge = [('net.bridge.bridge-nf-call-iptables', 'iptables')]
        if ctx.ipv6:
            bridge.append(('net.bridge.bridge-nf-call-ip6tables', 'ip6tables'))
        # a CNI not known to be bridge-based (other): for the record only, and nothing to set for it
        severity = 'error' if ctx.cni_row.bridge else 'info'
        for name, label in bridge:
            value = _sysctl_int(sysctl.get(name))
            why = ('pods of the %s CNI sit on a Linux bridge; packets between two pods on the same bridge only pass '
                   'kube-proxy\'s rules with br_netfilter loaded and %s = 1. Consequence: a pod reaching a Service '
                   'whose endpoint is on the same node gets no reply (%s)' % (
                       ctx.cni if ctx.cni != 'other' else 'chosen (if bridge-based)', name, SRC_K8S_RUNTIME_DOC))
            fix_it = _sysctl_remedy(name, value) if ctx.cni_row.bridge else None
            if value == 1:
                out.add('sysctl.' + name, 'ok', '%s = 1.' % name, remedy=fix_it)
                continue
            state = ('does not exist: br_netfilter is not loaded' if value is None else '= %s' % value)
            if sets_sysctls:
                out.add('sysctl.' + name, 'info', '%s %s; k3s loads br_netfilter and sets it to 1 when it starts '
                        '(%s).' % (name, state, SRC_K3S_SYSSETUP), 'nothing to do for k3s', remedy=fix_it)
                continue
            if not ctx.cni_row.bridge:
                out.add('sysctl.' + name, severity, '%s %s: only a CNI that puts pods on a Linux bridge needs it = 1 '
                        '(%s; %s).' % (name, state, SRC_KUBEADM_BRIDGE, SRC_K8S_RUNTIME_DOC),
                        'nothing to do unless your CNI is bridge-based (then name it: kubenode_cni)')
                continue
            out.add('sysctl.' + name, severity, '%s %s: %s.' % (name, state, why),
                    'load br_netfilter (kubenode_kernel_modules_remediate: true, role kubenode.netfilter.'
                    'kernel_modules) and set %s = 1 (kubenode_sysctl_remediate: true)' % name, remedy=fix_it)
    if ctx.mode == 'iptables':
        value = _sysctl_int(sysctl.get('net.ipv4.conf.all.route_localnet'))
        if value != 1:
            out.add('sysctl.net.ipv4.conf.all.route_localnet', 'info',
                    'net.ipv4.conf.all.route_localnet = %s; kube-proxy sets it to 1 itself in iptables mode (NodePorts '
                    'on 127.0.0.1) (%s).' % (value, SRC_KP_IPTABLES), 'nothing to do')
    if ctx.mode == 'ipvs':
        value = _sysctl_int(sysctl.get('net.ipv4.vs.conntrack'))
        if value != 1:
            out.add('sysctl.net.ipv4.vs.conntrack', 'info',
                    'net.ipv4.vs.conntrack %s; kube-proxy sets it to 1 itself in ipvs mode (the sysctl appears when '
                    'ip_vs is loaded) (%s).' % ('does not exist yet' if value is None else '= %s' % value,
                                                SRC_KP_IPVS), 'nothing to do')
    if ctx.modules_disabled:
        out.add('sysctl.kernel.modules_disabled', 'warning',
                'kernel.modules_disabled = 1: no module can be loaded until the next boot, not even the ones the '
                'kernel would load on demand (xtables extensions, nft expressions, ip_vs schedulers). Anything %s '
                'mode needs that is built as a module and not loaded yet will fail when first used.' % ctx.mode,
                'load the modules at boot before modules are disabled (kubenode_kernel_modules_remediate: true, '
                'role kubenode.netfilter.kernel_modules), then reboot')


# --------------------------------------------------------------------------------------------------------------
# Mode and distribution facts

def _check_mode_and_distribution(ctx: _Context, out: _Collector) -> None:
    if ctx.mode == 'ipvs':
        out.add('mode.ipvs_deprecated', 'info',
                'kube-proxy\'s ipvs mode is deprecated since Kubernetes v1.35 (%s). It still works, but will stop '
                'being available by default in a future release.' % SRC_IPVS_DEPRECATION,
                'plan the move to nftables mode (kubenode_proxy_mode: nftables; kernel >= 5.13, nft >= 1.0.1)')
    if ctx.distribution != 'k3s' or not ctx.version:
        return
    stat = _series_has(ctx.version, K3S_CHECK_CONFIG_STATISTIC)
    if stat is False:
        out.add('k3s.check_config_statistic_gap', 'info',
                'k3s %s\'s check-config does not check CONFIG_NETFILTER_XT_MATCH_STATISTIC (it does from %s; %s): it '
                'passes kernels without it, on which kube-proxy\'s iptables mode fails (%s). These findings check '
                'it.' % (ctx.version, _first_release(K3S_CHECK_CONFIG_STATISTIC), SRC_K3S_CHECK_STATISTIC,
                         STATISTIC_FAILURE),
                'trust kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC here rather than k3s check-config')
    nft = _series_has(ctx.version, K3S_NFT_BUNDLED)
    if nft is False:
        out.add('k3s.nft_not_bundled', 'info',
                'k3s %s does not bundle nft (bundled from %s; %s): in nftables mode kube-proxy needs the host\'s '
                'nft.' % (ctx.version, _first_release(K3S_NFT_BUNDLED), SRC_K3S_NFT_BUNDLE),
                'in nftables mode install nft on the host (%s) or upgrade k3s' % FIX_TOOLS)
