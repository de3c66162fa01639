# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the remediation roles change, as a pure function of the findings (``_findings.evaluate``).

The roles do not decide anything: every module to load, package to install, sysctl to set, tool to install and
iptables alternative to switch is the ``remedy`` of a finding the preflight reported (a passed check may carry one
too: a loadable module the mode uses is loaded and persisted so that it is there at boot). This file turns those
remedies into the roles' plans: the modules-load.d and sysctl.d file contents, the package lists, the alternative
targets. Only the explicit user requests (``kubenode_kernel_modules_extra``, ``kubenode_iptables_backend: nft|legacy``,
restore) are taken from variables. Nothing here runs a command or reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as req

MANAGER = 'kubenode.netfilter.kernel_modules'
MODULES_LOAD_FILE = '/etc/modules-load.d/kubenode-netfilter.conf'
SYSCTL_FILE = '/etc/sysctl.d/90-kubenode-netfilter.conf'
ALTERNATIVE_RECORD = '/var/lib/kubenode-netfilter/iptables-alternative.previous'

# Module states (as kernel_config_facts reports them).
BUILTIN, LOADED, LOADABLE, MISSING, UNKNOWN = req.MODULE_STATES
EXTRA_MODULE_OPTIONS = req.EXTRA_MODULE_OPTIONS

REASON_SECOND_RULESET = ('kube-proxy and kubelet pick their backend from the rules they find; switching the '
                         '`iptables` command while the other backend still holds rules makes them (and every tool that '
                         'calls iptables) write a second, disconnected rule set next to the one that keeps filtering '
                         'packets')


def _norm(name: str) -> str:
    return name.strip().replace('-', '_')


def _sort_key(name: str) -> Tuple[str, str]:
    return (name.lower(), name)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError('%s must be one of %s, got %r' % (name, ', '.join(choices), value))
    return value


def _findings(findings: Any) -> List[Mapping[str, Any]]:
    if not isinstance(findings, (list, tuple)):
        raise ValueError('findings must be a list (node_findings with include_passed=true), got %s'
                         % type(findings).__name__)
    out = []
    for item in findings:
        if not isinstance(item, Mapping) or not isinstance(item.get('id'), str):
            raise ValueError('each finding must be a dict with an id, got %r' % (item,))
        out.append(item)
    return out


def remedies_of(findings: Any, kind: str) -> List[Tuple[Mapping[str, Any], Mapping[str, Any]]]:
    # (finding, remedy) for every finding whose remedy is of ``kind``, in the findings' order
    out = []
    for finding in _findings(findings):
        rem = finding.get('remedy')
        if isinstance(rem, Mapping) and rem.get('kind') == kind:
            out.append((finding, rem))
    return out


# --------------------------------------------------------------------------------------------------------------
# Kernel modules

@dataclass(frozen=True)
class ModuleNeed:
    module: str
    state: str
    reason: str
    why: str  # the finding id, or 'extra' (kubenode_kernel_modules_extra)

    def as_dict(self) -> Dict[str, Any]:
        return {'module': self.module, 'state': self.state, 'reason': self.reason, 'why': self.why}


def _option_value(kernel: Mapping[str, Any], symbol: Optional[str]) -> str:
    if not symbol or not kernel.get('found'):
        return '?'
    options = kernel.get('options') if isinstance(kernel.get('options'), dict) else {}
    value = options.get(symbol)
    return value if isinstance(value, str) else '?'


def _extra_state(kernel: Mapping[str, Any], module: str, symbol: Optional[str]) -> Tuple[str, str]:
    # State of a module the user listed, from the facts' module states or, outside the catalog, its option.
    mods = kernel.get('modules') if isinstance(kernel.get('modules'), dict) else {}
    info = mods.get(module)
    if isinstance(info, dict) and info.get('state') in req.MODULE_STATES:
        return str(info['state']), str(info.get('reason') or '')
    value = _option_value(kernel, symbol)
    cfg = 'CONFIG_%s' % symbol if symbol else 'its option'
    if value == 'y':
        return BUILTIN, '%s=y (built into the kernel)' % cfg
    if value in ('n', 'absent'):
        return MISSING, '%s %s' % (cfg, 'is not set' if value == 'n' else 'is absent from the config')
    if kernel.get('modules_enabled') is False:
        return UNKNOWN, ('the kernel has no module support (CONFIG_MODULES is not set) and %s is not known to this '
                         'collection: %s is either built in or absent' % (module, module))
    if value == 'm':
        return LOADABLE, '%s=m; not in the catalog, so loading it with modprobe is the check' % cfg
    return LOADABLE, 'no option known for %s; loading it with modprobe is the check' % module


def _catalog_symbol(module: str, version: Optional[str]) -> Optional[str]:
    for symbol, mod in req.module_pairs(version):
        if _norm(mod) == module:
            return symbol
    return None


def modules_load_content(modules: Sequence[str], mode: str, cni: Optional[str] = None) -> str:
    # The modules-load.d file: a header saying who manages it, then one module per line (stable order).
    names = sorted({_norm(m) for m in modules if m and m.strip()}, key=_sort_key)
    header = [
        '# Managed by Ansible: %s (collection kubenode.netfilter). Do not edit: the role rewrites this file.' % MANAGER,
        '# Kernel modules for kube-proxy %s mode%s, loaded at boot by systemd-modules-load.' % (
            mode, (', CNI ' + cni) if cni and cni != 'other' else ''),
        '# Add modules with kubenode_kernel_modules_extra; remove this file with '
        'kubenode_kernel_modules_state: absent.',
    ]
    return '\n'.join(header + names) + '\n'


def sysctl_content(wanted: Mapping[str, int], mode: str) -> str:
    header = [
        '# Managed by Ansible: %s (collection kubenode.netfilter). Do not edit: the role rewrites this file.' % MANAGER,
        '# Sysctls for kube-proxy %s mode, applied at boot by systemd-sysctl.' % mode,
        '# Remove this file with kubenode_kernel_modules_state: absent (the running values stay until reboot).',
    ]
    return '\n'.join(header + ['%s = %s' % (k, wanted[k]) for k in sorted(wanted)]) + '\n'


_KERNEL_BLOCKERS = ('kernel.option_missing.', 'kernel.module_missing.')


def kernel_modules_plan(findings: Any, kernel: Mapping[str, Any], mode: str, cni: Optional[str] = None,
                        extra: Sequence[str] = (), load_configs: bool = False) -> Dict[str, Any]:
    # Everything the kernel_modules role does, from the findings' remedies (load_module, load_configs,
    # install_package, sysctl) plus the modules the user listed in ``extra``.
    #   load: loadable modules to load now; persist: the modules-load.d lines; untouched: already loaded (built-in
    #   ones need nothing, so no finding carries a remedy for them);
    #   missing: error findings about modules/options that cannot be loaded (with the package remedy, if any);
    #   unknown: modules whose state could not be checked; sysctl: key -> value; sysctl_changes: key -> current,
    #   wanted, exists (for the running values).
    if not isinstance(kernel, Mapping):
        raise ValueError('kernel_config facts must be a dict (ansible_facts[\'kernel_config\']), got %s'
                         % type(kernel).__name__)
    found = _findings(findings)
    release = str(kernel.get('release') or '')
    version = kernel.get('version') if isinstance(kernel.get('version'), str) else None
    needs = []  # type: List[ModuleNeed]
    seen = set()
    now = set()
    for finding, rem in remedies_of(found, 'load_module'):
        module = _norm(str(rem.get('module') or ''))
        if not module or module in seen:
            continue
        seen.add(module)
        if rem.get('now'):
            now.add(module)
        needs.append(ModuleNeed(module, str(rem.get('state')), str(finding.get('message') or ''), finding['id']))
    for name in extra:
        module = _norm(str(name))
        if not module or module in seen:
            continue
        seen.add(module)
        symbol = EXTRA_MODULE_OPTIONS.get(module) or _catalog_symbol(module, version)
        state, reason = _extra_state(kernel, module, symbol)
        needs.append(ModuleNeed(module, state, reason, 'extra'))
        if state == LOADABLE:
            now.add(module)
    plan = {'mode': mode, 'cni': cni or 'other', 'release': release, 'config_found': bool(kernel.get('found')),
            'modules_enabled': kernel.get('modules_enabled'), 'needs': [n.as_dict() for n in needs],
            'load': sorted((n.module for n in needs if n.state == LOADABLE and n.module in now), key=_sort_key),
            'persist': sorted((n.module for n in needs if n.state in (LOADABLE, LOADED)), key=_sort_key),
            'untouched': sorted((n.module for n in needs if n.state == LOADED), key=_sort_key),
            'unknown': sorted((n.module for n in needs if n.state == UNKNOWN), key=_sort_key)}  # type: Dict[str, Any]
    missing = []
    for finding in found:
        if finding.get('severity') != 'error' or not finding['id'].startswith(_KERNEL_BLOCKERS):
            continue
        rem = finding.get('remedy') if isinstance(finding.get('remedy'), Mapping) else None
        package = rem.get('packages') if rem and rem.get('kind') == 'install_package' else None
        name, _sep, release = finding['id'].split('.', 2)[2].partition('@')
        missing.append({'id': finding['id'], 'module': name, 'message': finding['message'],
                        'fix': finding.get('fix'), 'packages': list(package or []),
                        'kernel_release': finding.get('kernel_release') or release or None})
    for need in needs:
        if need.why == 'extra' and need.state == MISSING:
            missing.append({'id': 'extra.' + need.module, 'module': need.module, 'packages': [],
                            'message': 'module %s (listed in kubenode_kernel_modules_extra) cannot be loaded: %s'
                            % (need.module, need.reason),
                            'fix': 'boot a kernel built with it, or remove it from kubenode_kernel_modules_extra'})
    plan['missing'] = missing
    plan['unfixable'] = [m for m in missing if not m['packages']]
    plan['packages'] = sorted({p for m in missing for p in m['packages']})
    plan['unknown'] += sorted({f['id'].split('.', 2)[2] for f in found if f['id'].startswith('kernel.module_unknown.')}
                              - set(plan['unknown']))
    configs = remedies_of(found, 'load_configs')
    plan['unknown'] += [str(u) for _f, rem in configs for u in (rem.get('unchecked') or [])]
    plan['load_configs'] = bool(load_configs and configs)
    plan['modules_load_content'] = modules_load_content(plan['persist'], mode, cni)
    wanted = {}  # type: Dict[str, int]
    changes = {}  # type: Dict[str, Dict[str, Any]]
    for _finding, rem in remedies_of(found, 'sysctl'):
        key = str(rem.get('key'))
        wanted[key] = int(rem.get('value'))
        current = rem.get('current')
        if current != wanted[key]:
            changes[key] = {'current': current, 'wanted': wanted[key], 'exists': current is not None,
                            'requires_module': rem.get('requires_module')}
    plan['sysctl'] = dict(sorted(wanted.items()))
    plan['sysctl_changes'] = dict(sorted(changes.items()))
    plan['sysctl_content'] = sysctl_content(wanted, mode)
    return plan


# --------------------------------------------------------------------------------------------------------------
# Netfilter tools

def tools_plan(findings: Any, install_optional: bool = False) -> Dict[str, Any]:
    # Which tools the netfilter_tools role installs: the install_tool remedies of the findings. ``optional`` ones (a
    # distribution brings its own, e.g. k3s's bundled userspace) only with ``install_optional``
    # (kubenode_netfilter_tools_install_on_k3s). ``too_old``: remedies that name a minimum version.
    found = _findings(findings)
    present = sorted({f['id'].split('.', 2)[2] for f in found
                      if f['id'].startswith('tool.missing.') and f.get('severity') == 'ok'})
    absent, bundled_only, unpackaged, pkgs, notes, too_old = [], [], [], [], [], []  # type: ignore[var-annotated]
    for finding, rem in remedies_of(found, 'install_tool'):
        tool = str(rem.get('tool'))
        if rem.get('minimum'):
            too_old.append({'tool': tool, 'minimum': rem.get('minimum'), 'package': rem.get('package'),
                            'message': finding.get('message')})
        elif rem.get('optional') and not install_optional:
            if tool not in bundled_only:
                bundled_only.append(tool)
                notes.append('%s: %s (set kubenode_netfilter_tools_install_on_k3s: true to install the host\'s own '
                             'anyway)' % (tool, finding.get('message')))
            continue
        elif tool not in absent:
            absent.append(tool)
        package = rem.get('package')
        if not package:
            if tool not in unpackaged:
                unpackaged.append(tool)
        elif package not in pkgs:
            pkgs.append(str(package))
    return {'needed': sorted(set(present) | set(absent) | {t['tool'] for t in too_old}), 'present': present,
            'absent': absent, 'bundled_only': bundled_only, 'unpackaged': unpackaged, 'packages': pkgs,
            'notes': notes, 'too_old': too_old}


# --------------------------------------------------------------------------------------------------------------
# The iptables alternative

ALTERNATIVE_TARGETS = {
    'legacy': {'iptables': '/usr/sbin/iptables-legacy', 'ip6tables': '/usr/sbin/ip6tables-legacy'},
    'nft': {'iptables': '/usr/sbin/iptables-nft', 'ip6tables': '/usr/sbin/ip6tables-nft'},
}


def _backend_of_target(target: Optional[str]) -> Optional[str]:
    if not target:
        return None
    base = target.rsplit('/', 1)[-1]
    if base.endswith('-legacy'):
        return 'legacy'
    if base.endswith('-nft'):
        return 'nft'
    return None


def rules_in_backend(netfilter: Mapping[str, Any], backend: str) -> Tuple[int, List[str]]:
    """Rules the backend holds, and where they are (for the refusal message). nft counts iptables-nft's own tables
    (rule_counts.nft, unreadable ones included) and every other nft table's rules (firewalld, kube-proxy's nftables
    mode, ...): all of them keep filtering packets after a switch."""
    counts = netfilter.get('rule_counts') if isinstance(netfilter.get('rule_counts'), dict) else {}
    total = 0
    where = []
    if backend == 'legacy':
        n = int(counts.get('legacy') or 0)
        if n:
            total += n
            where.append('%d rule(s) in the legacy iptables tables' % n)
        return total, where
    n = int(counts.get('nft') or 0)
    if n:
        total += n
        where.append('%d rule(s) in iptables-nft\'s tables' % n)
    for table in netfilter.get('nft_tables') or []:
        if not isinstance(table, dict) or table.get('owner') == 'iptables':
            continue
        rules = int(table.get('rules') or 0)
        if rules:
            total += rules
            where.append('%d rule(s) in nft table %s %s (%s)' % (rules, table.get('family'), table.get('name'),
                                                                 table.get('owner')))
    return total, where


def iptables_backend_plan(netfilter: Mapping[str, Any], choice: str = 'auto', os_family: Optional[str] = None,
                          force: bool = False, restore: bool = False,
                          previous: Optional[Mapping[str, str]] = None, findings: Any = None) -> Dict[str, Any]:
    """Decide what to do with the ``iptables``/``ip6tables`` alternatives.

    action: ``none`` (nothing to do; ``reason`` says why), ``switch`` (set ``targets``), ``refuse`` (the backend
    being left holds rules and ``force`` is false; ``reason`` explains), ``unsupported`` (the OS has no alternatives
    for iptables, or one backend's binaries are absent). With ``restore`` the recorded ``previous`` targets are the
    goal (same refusal rule)."""
    check_choice('kubenode_iptables_backend', choice, ('auto', 'nft', 'legacy', 'keep'))
    nf = netfilter if isinstance(netfilter, Mapping) else {}
    alternatives = nf.get('alternatives') if isinstance(nf.get('alternatives'), dict) else {}
    current_target = alternatives.get('iptables')
    current = _backend_of_target(current_target)
    out = {'action': 'none', 'choice': choice, 'current': current, 'current_targets': dict(alternatives),
           'target': None, 'targets': {}, 'record': {}, 'reason': '', 'blocking_rules': 0, 'blocking': [],
           'record_content': '', 'restore': bool(restore)}  # type: Dict[str, Any]
    if choice == 'keep' and not restore:
        out['reason'] = 'kubenode_iptables_backend: keep'
        return out
    if os_family != 'Debian':
        out['action'] = 'unsupported' if choice in req.BACKENDS or restore else 'none'
        out['reason'] = ('the iptables command is switched with update-alternatives only on Debian and Ubuntu; on %s '
                         'the package decides which backend iptables uses' % (os_family or 'this OS'))
        return out
    if restore:
        targets = dict(previous or {})
        target = _backend_of_target(targets.get('iptables'))
        if not targets or target is None:
            out['reason'] = 'no previous alternative recorded: nothing to restore'
            return out
        why = 'restore the alternative recorded before the switch'
    elif choice in req.BACKENDS:
        target = choice
        why = 'kubenode_iptables_backend: %s' % choice
    else:
        wanted = remedies_of(findings or [], 'iptables_alternative')
        if not wanted or wanted[0][1].get('backend') not in req.BACKENDS:
            out['reason'] = ('auto: no finding asks for another iptables backend (netfilter.hint_in_other_backend), '
                             'so the alternative stays as it is (%s)' % (current or 'none'))
            return out
        finding, rem = wanted[0]
        target = str(rem['backend'])
        why = 'auto: %s (%s)' % (finding['id'], nf.get('mode_reason') or 'the Kubernetes chains')
        targets = {}
    if not restore:
        targets = {}
        for name in ('iptables', 'ip6tables'):
            if name in alternatives or name == 'iptables':
                targets[name] = ALTERNATIVE_TARGETS[target][name]
    out['target'] = target
    if current_target is None:
        out['action'] = 'unsupported'
        out['reason'] = 'no iptables alternative on this host (/etc/alternatives/iptables): nothing to switch'
        return out
    variant = 'iptables_legacy' if target == 'legacy' else 'iptables_nft'
    if not restore and not (isinstance(nf.get(variant), dict) and nf[variant].get('path')):
        out['action'] = 'unsupported'
        out['reason'] = '%s; but %s is not installed, so the alternative cannot point at it' % (
            why, variant.replace('_', '-'))
        return out
    if all(alternatives.get(k) == v for k, v in targets.items()):
        out['reason'] = '%s; the iptables alternative already points at %s' % (why, current_target)
        return out
    out['targets'] = targets
    leaving = current if current in req.BACKENDS else None
    if leaving and leaving != target:
        total, where = rules_in_backend(nf, leaving)
        out['blocking_rules'] = total
        out['blocking'] = where
        if total and not force:
            out['action'] = 'refuse'
            out['reason'] = ('%s; refusing to switch the iptables alternative from %s to %s: the %s backend still '
                             'holds %s. %s. Move or remove those rules first (Docker, ufw and firewalld rules count '
                             'too), or set kubenode_iptables_backend_force: true to switch anyway.' % (
                                 why, leaving, target, leaving, '; '.join(where), REASON_SECOND_RULESET))
            return out
    out['action'] = 'switch'
    out['record'] = {k: alternatives[k] for k in ('iptables', 'ip6tables') if alternatives.get(k)}
    out['record_content'] = alternative_record_content(out['record'])
    out['reason'] = '%s; switching the iptables alternative from %s to %s%s' % (
        why, current_target, targets.get('iptables'),
        (' although the %s backend holds %s (kubenode_iptables_backend_force: true)' % (leaving, '; '.join(
            out['blocking']))) if out['blocking'] else '')
    return out


def alternative_record_content(record: Mapping[str, str]) -> str:
    lines = ['# Written by kubenode.netfilter.netfilter_tools before it switched the iptables alternatives.',
             '# kubenode_iptables_backend_restore: true sets them back and removes this file.']
    lines += ['%s %s' % (name, record[name]) for name in ('iptables', 'ip6tables') if record.get(name)]
    return '\n'.join(lines) + '\n'


def parse_alternative_record(text: Optional[str]) -> Dict[str, str]:
    """``name path`` lines (comments ignored) -> {name: path}; unknown names and relative paths are dropped."""
    out = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split()
        if len(parts) == 2 and parts[0] in ('iptables', 'ip6tables') and parts[1].startswith('/'):
            out[parts[0]] = parts[1]
    return out
