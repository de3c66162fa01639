# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the remediation roles would change, as a pure function of the facts and the chosen mode.

- kernel modules: for a kube-proxy mode x iptables backend x IP families x CNI, the modules the catalog
  (``_requirements.options_for``) needs, split by their state in ``ansible_facts['kernel_config']['modules']``:
  ``loadable`` ones are loaded and persisted, ``builtin``/``loaded`` ones are left alone, ``missing`` ones are fixed
  only by a package that ships the module for the running release (Ubuntu ``linux-modules-extra-<release>``, RHEL
  family ``kernel-modules-extra-<release>``) or by another kernel;
- the content of the two files the kernel_modules role owns (modules-load.d, sysctl.d);
- netfilter tools: which tools the mode (and CNI) needs, which are absent, and the packages for them (the package
  names per OS family come from the netfilter_tools role's ``vars/``; they are passed in, so they live in one place);
- the ``iptables`` alternative (Debian/Ubuntu ``update-alternatives``): keep, switch or refuse.

Nothing here runs a command or reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as req
from ansible_collections.kubenode.netfilter.plugins.module_utils._findings import bundled_tool
from ansible_collections.kubenode.netfilter.plugins.module_utils._version import version_tuple

MANAGER = 'kubenode.netfilter.kernel_modules'
MODULES_LOAD_FILE = '/etc/modules-load.d/kubenode-netfilter.conf'
SYSCTL_FILE = '/etc/sysctl.d/90-kubenode-netfilter.conf'
ALTERNATIVE_RECORD = '/var/lib/kubenode-netfilter/iptables-alternative.previous'

# Module states (as kernel_config_facts reports them).
BUILTIN = 'builtin'
LOADED = 'loaded'
LOADABLE = 'loadable'
MISSING = 'missing'
UNKNOWN = 'unknown'

# Well-known modules outside the catalog that users add with kubenode_kernel_modules_extra, and the option that
# builds each; catalog modules are looked up in the catalog.
EXTRA_MODULE_OPTIONS = {
    'overlay': 'OVERLAY_FS',
    'configs': 'IKCONFIG',
    'nf_conntrack_netlink': 'NF_CT_NETLINK',
    'ip_vs_lc': 'IP_VS_LC',
    'ip_vs_wlc': 'IP_VS_WLC',
    'ip_vs_wrr': 'IP_VS_WRR',
    'ip_vs_sh': 'IP_VS_SH',
    'wireguard': 'WIREGUARD',
    'dummy': 'DUMMY',
}

# CNIs whose pods sit on a Linux bridge: bridge-nf-call-iptables must be 1 for Service traffic between pods of one
# node ('other' is unknown, so it gets them too: setting them is harmless when nothing is bridged).
BRIDGE_CNIS = ('flannel', 'kube-router', 'other')

UBUNTU_EXTRA = 'linux-modules-extra-%s'
RHEL_EXTRA = 'kernel-modules-extra-%s'
RHEL_FAMILY = ('RedHat', 'Rocky', 'AlmaLinux', 'CentOS', 'OracleLinux', 'Fedora')

REASON_SECOND_RULESET = ('kube-proxy and kubelet pick their backend from the rules they find; switching the '
                         '`iptables` command while the other backend still holds rules makes them (and every tool that '
                         'calls iptables) write a second, disconnected rule set next to the one that keeps filtering '
                         'packets')


def _norm(name: str) -> str:
    return name.strip().replace('-', '_')


def _sort_key(name: str) -> Tuple[str, str]:
    return (name.lower(), name)


# --------------------------------------------------------------------------------------------------------------
# Kernel modules

@dataclass(frozen=True)
class ModuleNeed:
    module: str
    option: Optional[str]
    state: str
    reason: str
    why: str  # 'mode' | 'extra' | 'configs'

    def as_dict(self) -> Dict[str, Any]:
        return {'module': self.module, 'option': self.option, 'state': self.state, 'reason': self.reason,
                'why': self.why}


@dataclass(frozen=True)
class MissingModule:
    module: str
    option: Optional[str]
    value: str             # the option's value in the config (m, n, absent, or ? when unknown)
    release: str
    package: Optional[str]  # a package that ships the module for this release, when one exists
    message: str
    fix: str

    def as_dict(self) -> Dict[str, Any]:
        return {'module': self.module, 'option': self.option, 'value': self.value, 'release': self.release,
                'package': self.package, 'message': self.message, 'fix': self.fix}


@dataclass
class ModulePlan:
    mode: str
    backend: str
    families: Tuple[str, ...]
    cni: str
    release: str
    config_found: bool
    modules_enabled: Optional[bool]
    needs: List[ModuleNeed] = field(default_factory=list)
    load: List[str] = field(default_factory=list)
    persist: List[str] = field(default_factory=list)
    untouched: List[str] = field(default_factory=list)
    missing: List[MissingModule] = field(default_factory=list)
    unknown: List[str] = field(default_factory=list)
    load_configs: bool = False

    @property
    def packages(self) -> List[str]:
        return sorted({m.package for m in self.missing if m.package})

    @property
    def unfixable(self) -> List[MissingModule]:
        return [m for m in self.missing if not m.package]

    def as_dict(self) -> Dict[str, Any]:
        return {
            'mode': self.mode, 'backend': self.backend, 'families': list(self.families), 'cni': self.cni,
            'release': self.release, 'config_found': self.config_found, 'modules_enabled': self.modules_enabled,
            'needs': [n.as_dict() for n in self.needs], 'load': list(self.load), 'persist': list(self.persist),
            'untouched': list(self.untouched), 'missing': [m.as_dict() for m in self.missing],
            'unknown': list(self.unknown), 'packages': self.packages,
            'unfixable': [m.as_dict() for m in self.unfixable], 'load_configs': self.load_configs,
        }


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError('%s must be one of %s, got %r' % (name, ', '.join(choices), value))
    return value


def mode_modules(mode: str, backend: str, families: Sequence[str], cni: Optional[str] = None,
                 kernel_version: Optional[str] = None) -> List[List[Tuple[str, str]]]:
    """The modules a mode needs, as units of alternatives: each unit is a list of (symbol, module) pairs of which
    one is enough (most units have one pair; ``any_of`` groups of the catalog with more than one module-building
    member have several). Required entries only; units in a stable order (by first module name)."""
    check_choice('mode', mode, req.MODES)
    check_choice('backend', backend, req.BACKENDS)
    cni_name = cni if cni in req.CNIS else None
    entries = []  # type: List[req.KernelOption]
    for family in families:
        check_choice('family', family, req.FAMILIES)
        entries.extend(req.options_for(mode, backend, family, cni=cni_name, kernel_version=kernel_version,
                                       required_only=True))
    groups = {}  # type: Dict[Tuple[str, str], List[req.KernelOption]]
    for entry in entries:
        if entry.any_of:
            groups.setdefault((entry.component, entry.any_of), []).append(entry)
    units = {}  # type: Dict[Tuple[Tuple[str, str], ...], None]
    for entry in entries:
        members = groups[(entry.component, entry.any_of)] if entry.any_of else [entry]
        # members that build no module (bools, transitional aliases, symbols that stopped building one) are the
        # preflight's business: only the module-building alternatives can be loaded
        pairs = []  # type: List[Tuple[str, str]]
        for member in members:
            module = member.module_for_kernel(kernel_version)
            if module is not None and (member.symbol, _norm(module)) not in pairs:
                pairs.append((member.symbol, _norm(module)))
        if pairs:
            units[tuple(pairs)] = None
    ordered = sorted(units, key=lambda unit: _sort_key(unit[0][1]))
    return [list(unit) for unit in ordered]


def _facts_module(kernel: Mapping[str, Any], module: str) -> Optional[Mapping[str, Any]]:
    mods = kernel.get('modules')
    if not isinstance(mods, dict):
        return None
    info = mods.get(module)
    return info if isinstance(info, dict) else None


def _option_value(kernel: Mapping[str, Any], symbol: Optional[str]) -> str:
    if not symbol or not kernel.get('found'):
        return '?'
    options = kernel.get('options') if isinstance(kernel.get('options'), dict) else {}
    value = options.get(symbol)
    return value if isinstance(value, str) else '?'


def _extra_state(kernel: Mapping[str, Any], module: str, symbol: Optional[str]) -> Tuple[str, str]:
    """State of a module outside the catalog, from its option (the facts carry no module state for it)."""
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


def extra_package(module_value: str, distribution: Optional[str], os_family: Optional[str],
                  release: str) -> Optional[str]:
    """The package that ships modules left out of the default kernel package, for this release: only when the
    option is ``m`` (built as a module whose file is not installed) on a distribution that splits them out."""
    if module_value != 'm' or not release:
        return None
    if distribution == 'Ubuntu':
        return UBUNTU_EXTRA % release
    if os_family == 'RedHat' or distribution in RHEL_FAMILY:
        return RHEL_EXTRA % release
    return None


def _missing(module: str, symbol: Optional[str], value: str, release: str, reason: str, mode: str,
             distribution: Optional[str], os_family: Optional[str], why: str,
             modules_enabled: Optional[bool] = None) -> MissingModule:
    package = None if modules_enabled is False else extra_package(value, distribution, os_family, release)
    cfg = 'CONFIG_%s' % symbol if symbol else 'the option that builds it'
    needed = ('needed for kube-proxy %s mode' % mode) if why == 'mode' else 'listed in kubenode_kernel_modules_extra'
    message = 'module %s (%s, kernel %s) is %s but missing: %s' % (module, cfg, release or 'unknown', needed, reason)
    if modules_enabled is False:
        fix = ('the kernel was built without module support (CONFIG_MODULES is not set), so no module can be '
               'loaded: boot a kernel with %s=y, or one with module support (for example the distribution\'s generic '
               'kernel)' % cfg)
    elif package:
        fix = ('install %s (it ships the modules left out of the default kernel package for %s): set '
               'kubenode_kernel_modules_install_extra: true, or install it yourself and run the role again'
               % (package, release))
    elif value == 'm':
        fix = ('%s=m but the module file is not installed for %s: install the kernel package that matches the running '
               'kernel (or reboot into the kernel whose modules are installed)' % (cfg, release or 'this kernel'))
    else:
        fix = ('no package can add %s: boot a kernel built with %s=y or =m, for example the distribution\'s generic '
               'kernel instead of a cloud, virtual or custom flavour (Ubuntu linux-generic, Alpine linux-lts instead '
               'of linux-virt), or rebuild the kernel with it' % (module, cfg))
    return MissingModule(module, symbol, value, release, package, message, fix)


def module_plan(kernel: Mapping[str, Any], mode: str, backend: str = 'nft', families: Sequence[str] = ('ipv4',),
                cni: Optional[str] = None, extra: Sequence[str] = (), distribution: Optional[str] = None,
                os_family: Optional[str] = None, load_configs: bool = False) -> ModulePlan:
    """Decide, from ``ansible_facts['kernel_config']``, what the kernel_modules role loads, persists and fails on.

    - ``load``: every needed module in state ``loadable`` (stable order)
    - ``persist``: loadable + loaded needed modules: the lines of the modules-load.d file (a second run, when the
      modules are loaded, writes the same file)
    - ``untouched``: builtin and loaded modules (no modprobe of built-ins)
    - ``missing``: cannot be loaded; each with the extra package when one exists, else the fix
    - ``unknown``: no kernel config and no evidence (``load_configs`` asks for the ``configs`` module first)
    """
    if not isinstance(kernel, Mapping):
        raise ValueError('kernel_config facts must be a dict (ansible_facts[\'kernel_config\']), got %s'
                         % type(kernel).__name__)
    release = str(kernel.get('release') or '')
    version = kernel.get('version') if isinstance(kernel.get('version'), str) else None
    plan = ModulePlan(mode=mode, backend=backend, families=tuple(families), cni=cni or 'other', release=release,
                      config_found=bool(kernel.get('found')), modules_enabled=kernel.get('modules_enabled'))
    seen = set()  # type: set
    for unit in mode_modules(mode, backend, families, cni, version):
        candidates = []
        for symbol, module in unit:
            info = _facts_module(kernel, module)
            state = str(info.get('state')) if info else UNKNOWN
            reason = str(info.get('reason') or '') if info else 'kernel_config facts carry no state for %s' % module
            option = str(info.get('option')) if info and info.get('option') else symbol
            candidates.append(ModuleNeed(module, option, state, reason, 'mode'))
        rank = {BUILTIN: 0, LOADED: 0, LOADABLE: 1, UNKNOWN: 2, MISSING: 3}
        best = sorted(candidates, key=lambda n: rank.get(n.state, 2))[0]
        if best.module in seen:
            continue
        seen.add(best.module)
        plan.needs.append(best)
    for name in extra:
        module = _norm(str(name))
        if not module or module in seen:
            continue
        seen.add(module)
        info = _facts_module(kernel, module)
        if info:
            plan.needs.append(ModuleNeed(module, str(info.get('option') or ''), str(info.get('state')),
                                         str(info.get('reason') or ''), 'extra'))
            continue
        symbol = EXTRA_MODULE_OPTIONS.get(module) or _catalog_symbol(module, version)
        state, reason = _extra_state(kernel, module, symbol)
        plan.needs.append(ModuleNeed(module, symbol, state, reason, 'extra'))
    if load_configs and not plan.config_found and plan.modules_enabled is not False:
        plan.load_configs = True
    for need in plan.needs:
        if need.state == LOADABLE:
            plan.load.append(need.module)
            plan.persist.append(need.module)
        elif need.state == LOADED:
            plan.untouched.append(need.module)
            plan.persist.append(need.module)
        elif need.state == BUILTIN:
            plan.untouched.append(need.module)
        elif need.state == MISSING:
            plan.missing.append(_missing(need.module, need.option, _option_value(kernel, need.option), release,
                                         need.reason, mode, distribution, os_family, need.why,
                                         plan.modules_enabled))
        else:
            plan.unknown.append(need.module)
    for names in (plan.load, plan.persist, plan.untouched, plan.unknown):
        names.sort(key=_sort_key)
    plan.missing.sort(key=lambda m: _sort_key(m.module))
    return plan


def _catalog_symbol(module: str, version: Optional[str]) -> Optional[str]:
    for symbol, mod in req.module_pairs(version):
        if _norm(mod) == module:
            return symbol
    return None


def modules_load_content(modules: Sequence[str], mode: str, cni: Optional[str] = None) -> str:
    """The modules-load.d file: a header saying who manages it, then one module per line (stable order)."""
    names = sorted({_norm(m) for m in modules if m and m.strip()}, key=_sort_key)
    header = [
        '# Managed by Ansible: %s (collection kubenode.netfilter). Do not edit: the role rewrites this file.' % MANAGER,
        '# Kernel modules for kube-proxy %s mode%s, loaded at boot by systemd-modules-load.' % (
            mode, (', CNI ' + cni) if cni and cni != 'other' else ''),
        '# Add modules with kubenode_kernel_modules_extra; remove this file with kubenode_kernel_modules_state: absent.',
    ]
    return '\n'.join(header + names) + '\n'


# --------------------------------------------------------------------------------------------------------------
# Sysctls

def sysctl_wanted(mode: str, cni: Optional[str] = None, ipv6: bool = False) -> Dict[str, int]:
    """The sysctls the node needs for the mode and CNI: forwarding always; bridge netfilter where pods sit on a
    bridge (flannel, kube-router, an unknown CNI) and kube-proxy runs."""
    check_choice('mode', mode, req.MODES)
    wanted = {'net.ipv4.ip_forward': 1}
    if ipv6:
        wanted['net.ipv6.conf.all.forwarding'] = 1
    if mode != 'none' and (cni or 'other') in BRIDGE_CNIS:
        wanted['net.bridge.bridge-nf-call-iptables'] = 1
        if ipv6:
            wanted['net.bridge.bridge-nf-call-ip6tables'] = 1
    return dict(sorted(wanted.items()))


def sysctl_content(wanted: Mapping[str, int], mode: str) -> str:
    header = [
        '# Managed by Ansible: %s (collection kubenode.netfilter). Do not edit: the role rewrites this file.' % MANAGER,
        '# Sysctls for kube-proxy %s mode, applied at boot by systemd-sysctl.' % mode,
        '# Remove this file with kubenode_kernel_modules_state: absent (the running values stay until reboot).',
    ]
    return '\n'.join(header + ['%s = %s' % (k, wanted[k]) for k in sorted(wanted)]) + '\n'


def sysctl_changes(wanted: Mapping[str, int], current: Optional[Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """name -> {current, wanted, exists} for every wanted sysctl whose running value differs."""
    out = {}
    for name in sorted(wanted):
        value = (current or {}).get(name)
        if isinstance(value, str) and value.strip().lstrip('-').isdigit():
            value = int(value.strip())
        if value != wanted[name]:
            out[name] = {'current': value, 'wanted': wanted[name], 'exists': value is not None}
    return out


def kernel_modules_plan(kernel: Mapping[str, Any], netfilter: Optional[Mapping[str, Any]], mode: str,
                        cni: Optional[str] = None, ipv6: bool = False, backend: str = 'auto',
                        extra: Sequence[str] = (), distribution: Optional[str] = None,
                        os_family: Optional[str] = None, load_configs: bool = False) -> Dict[str, Any]:
    """Everything the kernel_modules role needs, as one dict (the role's only source of decisions)."""
    families = ('ipv4', 'ipv6') if ipv6 else ('ipv4',)
    chosen, why = module_backend(netfilter, backend)
    plan = module_plan(kernel, mode, chosen, families, cni, extra, distribution, os_family, load_configs)
    wanted = sysctl_wanted(mode, cni, ipv6)
    out = plan.as_dict()
    out['backend_reason'] = why
    out['modules_load_content'] = modules_load_content(plan.persist, mode, cni)
    out['sysctl'] = wanted
    out['sysctl_content'] = sysctl_content(wanted, mode)
    out['sysctl_changes'] = sysctl_changes(wanted, (netfilter or {}).get('sysctl'))
    return out


def module_backend(netfilter: Optional[Mapping[str, Any]], choice: str = 'auto') -> Tuple[str, str]:
    """The iptables backend whose kernel modules are needed: an explicit choice, else the one Kubernetes
    components use (detected_mode, when a Kubernetes chain exists), else what the host's iptables uses, else nft."""
    check_choice('backend', choice, ('auto', 'keep') + req.BACKENDS)
    if choice in req.BACKENDS:
        return choice, 'kubenode_iptables_backend: %s' % choice
    nf = netfilter if isinstance(netfilter, Mapping) else {}
    chains = nf.get('kube_chains') if isinstance(nf.get('kube_chains'), dict) else {}
    held = sorted({b for v in chains.values() if isinstance(v, list) for b in v if b in req.BACKENDS})
    detected = nf.get('detected_mode')
    if held and detected in req.BACKENDS:
        return str(detected), 'the Kubernetes chains are in %s (detected_mode)' % detected
    ipt = nf.get('iptables') if isinstance(nf.get('iptables'), dict) else {}
    if ipt.get('backend') in req.BACKENDS:
        return str(ipt['backend']), 'the host\'s iptables uses %s' % ipt['backend']
    return 'nft', 'no host iptables and no Kubernetes chains: nft (what iptables-wrappers defaults to)'


# --------------------------------------------------------------------------------------------------------------
# Netfilter tools

TOOLS = ('iptables', 'ip6tables', 'nft', 'ipset')
CNI_TOOLS = {'flannel': ('iptables',), 'kube-router': ('iptables', 'ipset'), 'calico': ('iptables',)}


def tools_needed(mode: str, cni: Optional[str] = None, ipv6: bool = False) -> List[str]:
    """nftables -> nft; iptables -> iptables; ipvs -> iptables + ipset; ip6tables with IPv6 wherever iptables is
    needed; plus what an iptables-based CNI calls on the host (flannel, kube-router, calico)."""
    check_choice('mode', mode, req.MODES)
    tools = list({'iptables': ('iptables',), 'ipvs': ('iptables', 'ipset'), 'nftables': ('nft',)}.get(mode, ()))
    for tool in CNI_TOOLS.get(cni or '', ()):
        if tool not in tools:
            tools.append(tool)
    if ipv6 and 'iptables' in tools:
        tools.append('ip6tables')
    return [t for t in TOOLS if t in tools]


def _tool_info(nf: Mapping[str, Any], tool: str) -> Optional[Mapping[str, Any]]:
    info = nf.get(tool)
    return info if isinstance(info, dict) and info.get('path') else None


def _version_ok(version: Any, minimum: str) -> Optional[bool]:
    have = version_tuple(version if isinstance(version, str) else None)
    if have is None:
        return None
    return have >= version_tuple(minimum)  # type: ignore[operator]


def tools_plan(netfilter: Mapping[str, Any], mode: str, packages: Mapping[str, Any], cni: Optional[str] = None,
               ipv6: bool = False, distribution: str = 'generic', install_on_k3s: bool = False) -> Dict[str, Any]:
    """Which tools the mode needs, which the host lacks, and the packages that bring them (``packages``: tool ->
    package name for this OS family, from the role's vars/). Also the version checks (nft >= 1.0.1 in nftables
    mode) on what is there now; the role runs this again after installing."""
    if not isinstance(netfilter, Mapping):
        raise ValueError('netfilter facts must be a dict (ansible_facts[\'netfilter\']), got %s'
                         % type(netfilter).__name__)
    needed = tools_needed(mode, cni, ipv6)
    present, absent, bundled_only, unpackaged = [], [], [], []
    pkgs = []  # type: List[str]
    notes = []  # type: List[str]
    for tool in needed:
        info = _tool_info(netfilter, tool)
        if info is not None and not info.get('error'):
            present.append(tool)
            continue
        bundled = bundled_tool(netfilter, tool) if distribution == 'k3s' else None
        if bundled is not None and not install_on_k3s:
            bundled_only.append(tool)
            notes.append('%s: not on the host, but k3s bundles it at %s (version %s); no host package installed '
                         '(set kubenode_netfilter_tools_install_on_k3s: true to install one anyway)'
                         % (tool, bundled.get('path'), bundled.get('version')))
            continue
        absent.append(tool)
        package = packages.get(tool) if isinstance(packages, Mapping) else None
        if not package:
            unpackaged.append(tool)
            continue
        if package not in pkgs:
            pkgs.append(str(package))
    too_old = []
    for requirement in req.version_requirements_for(mode, cni if cni in req.CNIS else None):
        if requirement.what not in needed or requirement.component != req.KP:
            continue
        info = _tool_info(netfilter, requirement.what)
        where = 'host'
        if info is None and requirement.what in bundled_only:
            info, where = bundled_tool(netfilter, requirement.what), 'bundled with k3s'
        if info is None:
            continue
        ok = _version_ok(info.get('version'), requirement.minimum)
        if ok is False or ok is None:
            too_old.append({'tool': requirement.what, 'version': info.get('version'), 'path': info.get('path'),
                            'minimum': requirement.minimum, 'where': where, 'package': packages.get(requirement.what),
                            'message': '%s %s at %s (%s) %s %s, the minimum kube-proxy\'s %s mode needs (%s)' % (
                                requirement.what, info.get('version') or '(no version)', info.get('path'), where,
                                'is older than' if ok is False else 'reports no version to compare with', requirement.minimum,
                                mode, requirement.source)})
    return {'needed': needed, 'present': present, 'absent': absent, 'bundled_only': bundled_only,
            'unpackaged': unpackaged, 'packages': pkgs, 'notes': notes, 'too_old': too_old}


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
                          previous: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
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
        chains = nf.get('kube_chains') if isinstance(nf.get('kube_chains'), dict) else {}
        held = sorted({b for v in chains.values() if isinstance(v, list) for b in v if b in req.BACKENDS})
        detected = nf.get('detected_mode')
        if not held or detected not in req.BACKENDS:
            out['reason'] = ('auto: no Kubernetes chain (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY) in either backend, '
                             'so there is nothing to align with; kubelet will create its hint with the backend the '
                             'iptables command uses now (%s)' % (current or 'none'))
            return out
        target = str(detected)
        why = 'auto: the Kubernetes chains are in %s (%s)' % (target, nf.get('mode_reason') or 'detected_mode')
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
    if not restore and _tool_info(nf, variant) is None:
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
