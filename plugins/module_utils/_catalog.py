# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The requirement catalog: data only.

Which kernel options each component needs, per kube-proxy mode, iptables backend and IP family, with any-of
alternatives per kernel-version range and the upstream source of every entry; and the per-mode, per-CNI and
per-distribution tables (tools, host iptables need, bridge use, bundled directories, chain names, release facts).
Selection helpers here only filter rows; every decision is made once, in ``_findings.py``. Adding a CNI or a mode is
adding rows (see docs/catalog.md); tests/unit/plugins/module_utils/test__catalog.py proves every mode and CNI has a
row in every table.

Vocabulary:
- mode: kube-proxy mode ``iptables`` | ``nftables`` | ``ipvs`` | ``none`` (no kube-proxy, e.g. Cilium's replacement)
- backend: the iptables backend in use on the host, ``legacy`` | ``nft`` (iptables-nft); entries that do not depend
  on it list both
- family: ``ipv4`` | ``ipv6``
- component: ``kube-proxy`` | ``kubelet`` | ``cni:<name>`` (kube-router, flannel, calico, cilium)
- any_of: entries sharing a group name are alternatives; the group is met when one alternative that applies to the
  kernel version is met (e.g. MASQUERADE spelled ``IP_NF_TARGET_MASQUERADE`` or ``NETFILTER_XT_TARGET_MASQUERADE``)
- kernel_min (inclusive) / kernel_before (exclusive): the kernel versions on which the symbol exists
- if_defined: check only where the kernel's config knows the symbol (set, ``m`` or ``is not set``); used for the
  legacy toggles, which stable series backported, so a version range alone cannot tell
- on_demand: the kernel (or the tool using it) loads the module by itself when first used (xtables extensions via
  iptables' modprobe or nft_compat's request_module, nft expressions via nfnetlink autoload, ipvs schedulers via
  request_module); ``False`` where nothing does (``br_netfilter``)
- required: ``False`` for options needed only by optional features (the note says which)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils._version import version_tuple


MODES = ('iptables', 'nftables', 'ipvs', 'none')
BACKENDS = ('legacy', 'nft')
FAMILIES = ('ipv4', 'ipv6')
CNIS = ('kube-router', 'flannel', 'calico', 'cilium', 'canal')
# 'other' is a CNI the catalog has no rows for, except what any pod network may need (cni:other)
COMPONENTS = ('kube-proxy', 'kubelet') + tuple('cni:' + name for name in CNIS + ('other',))

PROXY_MODES = ('iptables', 'nftables', 'ipvs')
ALL_MODES = MODES

# Upstream references (file paths are within the named repository).
SRC_KP_IPTABLES = 'kubernetes/kubernetes pkg/proxy/iptables/proxier.go'
SRC_KP_NFTABLES = 'kubernetes/kubernetes pkg/proxy/nftables/proxier.go'
SRC_KP_NFT_SUPPORTED = 'kubernetes/kubernetes pkg/proxy/nftables/supported.go'
SRC_KP_IPVS = 'kubernetes/kubernetes pkg/proxy/ipvs/proxier.go'
SRC_KP_IPVS_IPSET = 'kubernetes/kubernetes pkg/proxy/ipvs/ipset.go'
SRC_KP_IPVS_SUPPORTED = 'kubernetes/kubernetes pkg/proxy/ipvs/supported.go'
SRC_KUBELET = 'kubernetes/kubernetes pkg/kubelet/kubelet_network_linux.go'
SRC_VALIDATORS = 'kubernetes/system-validators validators/types_unix.go'
SRC_K0S_SYSINFO = 'k0sproject/k0s internal/pkg/sysinfo/host_linux.go (addKernelConfigs, worker role)'
SRC_KUBELET_INIT = ('kubernetes/kubernetes pkg/kubelet/kubelet_network_linux.go (initNetworkUtil: "Failed to '
                    'initialize iptables rules; some functionality may be missing." and kubelet runs on)')
SRC_KP_IPVS_REJECT = ('kubernetes/kubernetes pkg/proxy/ipvs/proxier.go writeIptablesRules: -A KUBE-IPVS-FILTER -m '
                      'conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT, on every sync')
SRC_KP_IPVS_DUMMY = ('kubernetes/kubernetes pkg/proxy/ipvs/proxier.go syncProxyRules: EnsureDummyDevice(kube-ipvs0) '
                     'on every sync; on error it returns before programming anything')
SRC_KP_IPVS_OUT_FILTER = ('kubernetes/kubernetes pkg/proxy/ipvs/proxier.go writeIptablesRules: -A KUBE-IPVS-OUT-FILTER '
                          '-m ipvs --vaddr ... -j DROP for LoadBalancer Services whose loadBalancerSourceRanges '
                          'exclude the node (kubernetes/kubernetes#119791)')
SRC_KUBEADM_BRIDGE = ('kubernetes/kubernetes#123464 (kubeadm removed its bridge-nf-call-iptables check: "not all the '
                      'network implementations require this setting")')
SRC_K3S = 'k3s-io/k3s contrib/util/check-config.sh'
SRC_K8S_RUNTIME_DOC = 'https://kubernetes.io/docs/setup/production-environment/container-runtimes/'
SRC_KERNEL_NAT = 'torvalds/linux net/netfilter/Kconfig, net/ipv4/netfilter/Kconfig (NAT consolidation, 5.1)'
SRC_KERNEL_LEGACY = ('torvalds/linux net/netfilter/Kconfig: "netfilter: xtables: allow xtables-nft only builds", '
                     '"Make legacy configs user selectable", "Exclude LEGACY TABLES on PREEMPT_RT" (6.17)')
SRC_KERNEL_IPVS_SCHED = 'torvalds/linux net/netfilter/ipvs/ip_vs_sched.c (request_module("ip_vs_%s"))'
SRC_KR_NSC = 'cloudnativelabs/kube-router pkg/controllers/proxy/network_services_controller.go'
SRC_KR_NPC = 'cloudnativelabs/kube-router pkg/controllers/netpol/'
SRC_FLANNEL = 'flannel-io/flannel pkg/trafficmngr/iptables/iptables.go'
SRC_PORTMAP = 'containernetworking/plugins plugins/meta/portmap/portmap.go'
SRC_CNI_BRIDGE = 'containernetworking/plugins plugins/main/bridge/bridge.go'
SRC_CALICO = 'projectcalico/calico docs: Kernel dependencies (_includes/.../reqs-kernel.md)'
SRC_CILIUM = 'https://docs.cilium.io/en/latest/operations/system_requirements/'
SRC_CANAL = ('projectcalico/calico manifests/canal.yaml (Calico policy + CNI plugin with flannel\'s vxlan for '
             'networking); rancher/rke2 default CNI')


@dataclass(frozen=True)
class KernelOption:
    symbol: str
    component: str
    modes: Tuple[str, ...]
    source: str
    backends: Tuple[str, ...] = BACKENDS
    families: Tuple[str, ...] = FAMILIES
    module: Optional[str] = None
    module_before: Optional[str] = None       # the symbol builds ``module`` only on kernels before this version
    any_of: Optional[str] = None
    kernel_min: Optional[str] = None
    kernel_before: Optional[str] = None
    if_defined: bool = False
    on_demand: bool = False
    xtables: Tuple[Tuple[str, str], ...] = ()  # (kind 'match'|'target', registered name)
    required: bool = True
    note: str = ''
    severity: str = ''                         # when missing; '' -> error (required) or info (optional)
    distributions: Tuple[str, ...] = ()        # only on these distributions (empty: every one)

    @property
    def missing_severity(self) -> str:
        return self.severity or ('error' if self.required else 'info')

    @property
    def config_name(self) -> str:
        return 'CONFIG_' + self.symbol

    def applies_to_kernel(self, version: Optional[str]) -> bool:
        """True when the symbol exists on ``version`` (unknown version: True)."""
        vt = version_tuple(version)
        if vt is None:
            return True
        if self.kernel_min is not None and vt < version_tuple(self.kernel_min):  # type: ignore[operator]
            return False
        if self.kernel_before is not None and vt >= version_tuple(self.kernel_before):  # type: ignore[operator]
            return False
        return True

    def module_for_kernel(self, version: Optional[str]) -> Optional[str]:
        if self.module is None:
            return None
        if self.module_before is None:
            return self.module
        vt = version_tuple(version)
        if vt is None or vt >= version_tuple(self.module_before):  # type: ignore[operator]
            return None
        return self.module


@dataclass(frozen=True)
class VersionRequirement:
    """A minimum version of the kernel or a tool, per mode and component."""

    what: str            # 'kernel' or a tool name ('nft', 'iptables', 'ipset')
    minimum: str
    component: str
    modes: Tuple[str, ...]
    source: str
    note: str = ''


def _opt(symbol, component, modes, source, **kwargs):
    # type: (str, str, Tuple[str, ...], str, object) -> KernelOption
    return KernelOption(symbol=symbol, component=component, modes=tuple(modes), source=source, **kwargs)


KP = 'kube-proxy'
KL = 'kubelet'
IPT_IPVS = ('iptables', 'ipvs')
V4 = ('ipv4',)
V6 = ('ipv6',)
LEGACY = ('legacy',)
NFT = ('nft',)

_MARK_NOTE = ('NETFILTER_XT_MATCH_MARK is a transitional symbol that selects NETFILTER_XT_MARK, which builds xt_mark '
              '(mark match and MARK target)')
_MASQ4_NOTE = ('since the 5.1 NAT consolidation IP_NF_TARGET_MASQUERADE only selects NETFILTER_XT_TARGET_MASQUERADE '
               '(xt_MASQUERADE); before, it built ipt_MASQUERADE')
_MASQ6_NOTE = _MASQ4_NOTE.replace('IP_NF_', 'IP6_NF_').replace('ipt_', 'ip6t_')


def _xt_common(component, modes, source, prefix, note=''):
    # type: (str, Tuple[str, ...], str, str, str) -> List[KernelOption]
    """xtables extensions (family independent) and MASQUERADE that iptables-based dataplanes use."""
    return [
        _opt('NETFILTER_XTABLES', component, modes, source, module='x_tables', on_demand=True,
             note='xtables core (also provides the tcp/udp matches)' + ('; ' + note if note else '')),
        _opt('NETFILTER_XT_MATCH_COMMENT', component, modes, source, module='xt_comment', on_demand=True,
             xtables=(('match', 'comment'),), note='-m comment'),
        _opt('NETFILTER_XT_MATCH_CONNTRACK', component, modes, source, module='xt_conntrack', on_demand=True,
             xtables=(('match', 'conntrack'),), note='-m conntrack --ctstate'),
        _opt('NETFILTER_XT_MATCH_ADDRTYPE', component, modes, source, module='xt_addrtype', on_demand=True,
             xtables=(('match', 'addrtype'),), note='-m addrtype --dst-type LOCAL'),
        _opt('NETFILTER_XT_MARK', component, modes, source, module='xt_mark', on_demand=True,
             any_of=prefix + 'mark', xtables=(('match', 'mark'), ('target', 'MARK')),
             note='-m mark / -j MARK; ' + _MARK_NOTE),
        _opt('NETFILTER_XT_MATCH_MARK', component, modes, source, any_of=prefix + 'mark', on_demand=True,
             xtables=(('match', 'mark'),), note=_MARK_NOTE),
        _opt('NETFILTER_XT_TARGET_MASQUERADE', component, modes, source, module='xt_MASQUERADE', on_demand=True,
             kernel_min='5.1', any_of=prefix + 'masquerade_ipv4', families=V4, xtables=(('target', 'MASQUERADE'),),
             note='-j MASQUERADE (IPv4)'),
        _opt('IP_NF_TARGET_MASQUERADE', component, modes, source, module='ipt_MASQUERADE', module_before='5.1',
             on_demand=True, any_of=prefix + 'masquerade_ipv4', families=V4,
             xtables=(('target', 'MASQUERADE'),), note=_MASQ4_NOTE),
        _opt('NETFILTER_XT_TARGET_MASQUERADE', component, modes, source, module='xt_MASQUERADE', on_demand=True,
             kernel_min='5.1', any_of=prefix + 'masquerade_ipv6', families=V6, xtables=(('target', 'MASQUERADE'),),
             note='-j MASQUERADE (IPv6)'),
        _opt('IP6_NF_TARGET_MASQUERADE', component, modes, source, module='ip6t_MASQUERADE', module_before='5.1',
             on_demand=True, any_of=prefix + 'masquerade_ipv6', families=V6,
             xtables=(('target', 'MASQUERADE'),), note=_MASQ6_NOTE),
        _opt('NF_NAT_MASQUERADE', component, modes, source, kernel_min='5.1', any_of=prefix + 'nat_masquerade_ipv4',
             families=V4, note='masquerade core (bool); was NF_NAT_MASQUERADE_IPV4/IPV6 before 5.1'),
        _opt('NF_NAT_MASQUERADE_IPV4', component, modes, SRC_KERNEL_NAT, kernel_before='5.1',
             any_of=prefix + 'nat_masquerade_ipv4', families=V4, note='renamed NF_NAT_MASQUERADE in 5.1'),
        _opt('NF_NAT_MASQUERADE', component, modes, source, kernel_min='5.1', any_of=prefix + 'nat_masquerade_ipv6',
             families=V6, note='masquerade core (bool); was NF_NAT_MASQUERADE_IPV6 before 5.1'),
        _opt('NF_NAT_MASQUERADE_IPV6', component, modes, SRC_KERNEL_NAT, kernel_before='5.1',
             any_of=prefix + 'nat_masquerade_ipv6', families=V6, note='renamed NF_NAT_MASQUERADE in 5.1'),
    ]


def _conntrack_nat(component, modes, source):
    # type: (str, Tuple[str, ...], str) -> List[KernelOption]
    return [
        _opt('NF_CONNTRACK', component, modes, source, module='nf_conntrack', on_demand=True,
             note='connection tracking; loaded as a dependency of xt_conntrack / nf_nat / nft_ct'),
        _opt('NF_NAT', component, modes, source, module='nf_nat', on_demand=True,
             note='NAT core; loaded as a dependency of xt_nat / nft_nat / ip_vs'),
        _opt('NF_NAT_IPV4', component, modes, SRC_KERNEL_NAT, module='nf_nat_ipv4', kernel_before='5.1', families=V4,
             on_demand=True, note='merged into NF_NAT in 5.1'),
        _opt('NF_NAT_IPV6', component, modes, SRC_KERNEL_NAT, module='nf_nat_ipv6', kernel_before='5.1', families=V6,
             on_demand=True, note='merged into NF_NAT in 5.1'),
        _opt('NF_CONNTRACK_IPV4', component, modes, SRC_KERNEL_NAT, module='nf_conntrack_ipv4',
             kernel_before='4.19', families=V4, on_demand=True, note='merged into NF_CONNTRACK in 4.19'),
        _opt('NF_CONNTRACK_IPV6', component, modes, SRC_KERNEL_NAT, module='nf_conntrack_ipv6',
             kernel_before='4.19', families=V6, on_demand=True, note='merged into NF_CONNTRACK in 4.19'),
    ]


def _backend_tables(component, modes, source, tables, note='', **extra):
    # type: (str, Tuple[str, ...], str, Tuple[str, ...], str, object) -> List[KernelOption]
    """What each iptables backend needs for the given tables (``filter``, ``nat``, ``mangle``)."""
    out = [
        # legacy (iptables-legacy, the x_tables socket interface)
        _opt('NETFILTER_XTABLES_LEGACY', component, modes, SRC_KERNEL_LEGACY, backends=LEGACY, kernel_min='6.17',
             if_defined=True, note='bool gate for every legacy table since 6.17 (not on PREEMPT_RT); without it '
             'iptables-legacy finds no tables. ' + note),
        _opt('IP_NF_IPTABLES_LEGACY', component, modes, SRC_KERNEL_LEGACY, backends=LEGACY, families=V4,
             module='ip_tables', kernel_min='6.9', if_defined=True, on_demand=True,
             note='builds ip_tables since it exists (6.9, user-selectable from 6.13; backported to stable series, '
             'hence if_defined)'),
        _opt('IP6_NF_IPTABLES_LEGACY', component, modes, SRC_KERNEL_LEGACY, backends=LEGACY, families=V6,
             module='ip6_tables', kernel_min='6.9', if_defined=True, on_demand=True,
             note='builds ip6_tables since it exists (see IP_NF_IPTABLES_LEGACY)'),
        _opt('IP_NF_IPTABLES', component, modes, source, backends=LEGACY, families=V4, module='ip_tables',
             module_before='6.9', on_demand=True,
             note='iptables-legacy loads ip_tables itself (modprobe); from 6.9 the module is built by '
             'IP_NF_IPTABLES_LEGACY'),
        _opt('IP6_NF_IPTABLES', component, modes, source, backends=LEGACY, families=V6, module='ip6_tables',
             module_before='6.9', on_demand=True, note='see IP_NF_IPTABLES'),
        # nf_tables (iptables-nft)
        _opt('NF_TABLES', component, modes, source, backends=NFT, module='nf_tables', on_demand=True,
             note='iptables-nft programs nf_tables; autoloaded through nfnetlink'),
        _opt('NF_TABLES_IPV4', component, modes, source, backends=NFT, families=V4, note='bool, part of nf_tables'),
        _opt('NF_TABLES_IPV6', component, modes, source, backends=NFT, families=V6, note='bool, part of nf_tables'),
    ]
    for family, fam_prefix, legacy_prefix in (('ipv4', 'IP_NF_', 'iptable_'), ('ipv6', 'IP6_NF_', 'ip6table_')):
        fams = (family,)
        for table in tables:
            symbol = fam_prefix + {'filter': 'FILTER', 'nat': 'NAT', 'mangle': 'MANGLE'}[table]
            out.append(_opt(symbol, component, modes, source, backends=LEGACY, families=fams,
                            module=legacy_prefix + table, on_demand=True,
                            note='the legacy %s table (the kernel loads it when the table is first used)' % table))
        if 'nat' in tables:
            suffix = 'IPV4' if family == 'ipv4' else 'IPV6'
            out.append(_opt('NFT_NAT', component, modes, source, backends=NFT, families=fams, module='nft_nat',
                            kernel_min='5.1', any_of='%s:nft_nat_chain_%s' % (component, family), on_demand=True,
                            note='nat chains (type nat) and the nat expression; since 5.1 also the nat chain type'))
            out.append(_opt('NFT_CHAIN_NAT_' + suffix, component, modes, SRC_KERNEL_NAT, backends=NFT, families=fams,
                            module='nft_chain_nat_' + family, kernel_before='5.1',
                            any_of='%s:nft_nat_chain_%s' % (component, family), on_demand=True,
                            note='the nat chain type before 5.1 (merged into NFT_NAT)'))
    if extra:
        out = [KernelOption(**dict(vars(entry), **extra)) for entry in out]
    return out


def _build_catalog():
    # type: () -> Tuple[KernelOption, ...]
    entries = []  # type: List[KernelOption]

    # ---- kube-proxy, iptables and ipvs modes (both use iptables rules)
    entries += _xt_common(KP, IPT_IPVS, SRC_KP_IPTABLES + '; ' + SRC_KP_IPVS, 'kube-proxy:')
    entries += _conntrack_nat(KP, PROXY_MODES, SRC_KP_IPTABLES + '; ' + SRC_K3S)
    entries += _backend_tables(KP, IPT_IPVS, SRC_KP_IPTABLES, ('filter', 'nat', 'mangle'),
                               note='kube-proxy writes filter and nat rules and a canary chain in mangle')
    entries += [
        _opt('NFT_COMPAT', KP, IPT_IPVS, SRC_KP_IPTABLES, backends=NFT, module='nft_compat', on_demand=True,
             note='iptables-nft runs xtables matches/targets it cannot translate through nft_compat'),
        _opt('NFT_CT', KP, IPT_IPVS, SRC_KP_IPTABLES, backends=NFT, module='nft_ct', on_demand=True,
             note='conntrack state in rules iptables-nft translates natively'),
        _opt('NETFILTER_XT_MATCH_STATISTIC', KP, ('iptables',), SRC_KP_IPTABLES + '; ' + SRC_K3S,
             module='xt_statistic', on_demand=True, xtables=(('match', 'statistic'),),
             note='-m statistic --mode random --probability: load-balancing across endpoints'),
        _opt('NETFILTER_XT_MATCH_RECENT', KP, ('iptables',), SRC_KP_IPTABLES, module='xt_recent', on_demand=True,
             xtables=(('match', 'recent'),), note='-m recent: sessionAffinity ClientIP'),
        _opt('NETFILTER_XT_NAT', KP, ('iptables',), SRC_KP_IPTABLES, module='xt_nat', on_demand=True,
             xtables=(('target', 'DNAT'), ('target', 'SNAT')), note='-j DNAT --to-destination'),
        _opt('IP_NF_TARGET_REJECT', KP, IPT_IPVS, SRC_KP_IPTABLES + '; ' + SRC_KP_IPVS_REJECT + '; ' + SRC_K3S,
             families=V4, module='ipt_REJECT', on_demand=True, xtables=(('target', 'REJECT'),),
             note='-j REJECT: iptables mode for services without endpoints, ipvs mode in KUBE-IPVS-FILTER on every '
             'sync'),
        _opt('IP6_NF_TARGET_REJECT', KP, IPT_IPVS, SRC_KP_IPTABLES + '; ' + SRC_KP_IPVS_REJECT, families=V6,
             module='ip6t_REJECT', on_demand=True, xtables=(('target', 'REJECT'),), note='-j REJECT (IPv6)'),
    ]

    # ---- kube-proxy, ipvs mode
    entries += [
        _opt('IP_VS', KP, ('ipvs',), SRC_KP_IPVS_SUPPORTED + '; ' + SRC_K3S, module='ip_vs', on_demand=True,
             note='autoloaded through its generic-netlink family ("kernel modules will be loaded automatically", '
             'supported.go)'),
        _opt('IP_VS_RR', KP, ('ipvs',), SRC_KP_IPVS_SUPPORTED + '; ' + SRC_KERNEL_IPVS_SCHED, module='ip_vs_rr',
             on_demand=True, note='the default scheduler (rr)'),
        _opt('IP_VS_WRR', KP, ('ipvs',), SRC_KERNEL_IPVS_SCHED, module='ip_vs_wrr', on_demand=True, required=False,
             note='only with ipvs.scheduler: wrr'),
        _opt('IP_VS_SH', KP, ('ipvs',), SRC_KERNEL_IPVS_SCHED, module='ip_vs_sh', on_demand=True, required=False,
             note='only with ipvs.scheduler: sh'),
        _opt('IP_VS_NFCT', KP, ('ipvs',), SRC_K3S + '; ' + SRC_KP_IPVS, note='bool: ipvs connections in '
             'conntrack (kube-proxy sets net.ipv4.vs.conntrack=1)'),
        _opt('IP_VS_PROTO_TCP', KP, ('ipvs',), SRC_K3S, note='bool'),
        _opt('IP_VS_PROTO_UDP', KP, ('ipvs',), SRC_K3S, note='bool'),
        _opt('IP_SET', KP, ('ipvs',), SRC_KP_IPVS_IPSET + '; ' + SRC_K3S, module='ip_set', on_demand=True,
             note='ipset core; autoloaded through nfnetlink'),
        _opt('IP_SET_HASH_IP', KP, ('ipvs',), SRC_KP_IPVS_IPSET, module='ip_set_hash_ip', on_demand=True,
             note='set types load on demand (request_module("ip_set_%s"))'),
        _opt('IP_SET_HASH_IPPORT', KP, ('ipvs',), SRC_KP_IPVS_IPSET, module='ip_set_hash_ipport', on_demand=True,
             note='hash:ip,port (KUBE-CLUSTER-IP, ...)'),
        _opt('IP_SET_HASH_IPPORTIP', KP, ('ipvs',), SRC_KP_IPVS_IPSET, module='ip_set_hash_ipportip',
             on_demand=True, note='hash:ip,port,ip (KUBE-LOOP-BACK, KUBE-LOAD-BALANCER-SOURCE-IP)'),
        _opt('IP_SET_HASH_IPPORTNET', KP, ('ipvs',), SRC_KP_IPVS_IPSET, module='ip_set_hash_ipportnet',
             on_demand=True, note='hash:ip,port,net (KUBE-LOAD-BALANCER-SOURCE-CIDR)'),
        _opt('IP_SET_BITMAP_PORT', KP, ('ipvs',), SRC_KP_IPVS_IPSET, module='ip_set_bitmap_port', on_demand=True,
             note='bitmap:port (KUBE-NODE-PORT-*)'),
        _opt('NETFILTER_XT_SET', KP, ('ipvs',), SRC_KP_IPVS, module='xt_set', on_demand=True,
             xtables=(('match', 'set'), ('target', 'SET')), note='-m set --match-set'),
        _opt('DUMMY', KP, ('ipvs',), SRC_KP_IPVS_DUMMY, module='dummy', on_demand=True,
             note='the kube-ipvs0 dummy device that holds every Service address (autoloaded when the link is '
             'created, rtnl-link-dummy)'),
        _opt('NETFILTER_XT_MATCH_IPVS', KP, ('ipvs',), SRC_KP_IPVS_OUT_FILTER, module='xt_ipvs', on_demand=True,
             severity='warning', xtables=(('match', 'ipvs'),),
             note='-m ipvs in KUBE-IPVS-OUT-FILTER, written only for LoadBalancer Services with '
             'loadBalancerSourceRanges that exclude the node; once such a Service exists, the whole '
             'iptables-restore fails without it'),
        _opt('NETFILTER_XT_MATCH_PHYSDEV', KP, ('ipvs',), SRC_KP_IPVS, module='xt_physdev', on_demand=True,
             required=False, xtables=(('match', 'physdev'),),
             note='-m physdev ! --physdev-is-in, only for Services with externalIPs'),
    ]

    # ---- kube-proxy, nftables mode (kube-proxy's own tables; the iptables backend does not matter here)
    nft_src = SRC_KP_NFTABLES
    entries += [
        _opt('NF_TABLES', KP, ('nftables',), nft_src, module='nf_tables', on_demand=True,
             note='autoloaded through nfnetlink'),
        _opt('NF_TABLES_IPV4', KP, ('nftables',), nft_src, families=V4, note='table ip kube-proxy'),
        _opt('NF_TABLES_IPV6', KP, ('nftables',), nft_src, families=V6, note='table ip6 kube-proxy'),
        _opt('NF_TABLES_INET', KP, ('nftables',), nft_src, required=False,
             note='kube-proxy uses the ip/ip6 families; inet is needed by CNIs and host firewalls that share the '
             'node'),
        _opt('NFT_CT', KP, ('nftables',), nft_src, module='nft_ct', on_demand=True, note='ct state / ct status'),
        _opt('NFT_NAT', KP, ('nftables',), nft_src, module='nft_nat', on_demand=True, note='dnat / snat, nat chains'),
        _opt('NFT_MASQ', KP, ('nftables',), nft_src, module='nft_masq', on_demand=True, note='masquerade'),
        _opt('NFT_NUMGEN', KP, ('nftables',), nft_src, module='nft_numgen', on_demand=True,
             note='numgen random mod N: endpoint selection'),
        _opt('NFT_FIB_IPV4', KP, ('nftables',), nft_src, families=V4, module='nft_fib_ipv4', on_demand=True,
             note='fib daddr type local'),
        _opt('NFT_FIB_IPV6', KP, ('nftables',), nft_src, families=V6, module='nft_fib_ipv6', on_demand=True,
             note='fib daddr type local'),
        _opt('NFT_REJECT', KP, ('nftables',), nft_src, module='nft_reject', on_demand=True,
             note='reject for services without endpoints'),
    ]

    # ---- kubelet: KUBE-IPTABLES-HINT and KUBE-KUBELET-CANARY (mangle, nat, filter), in every mode
    entries += _backend_tables(KL, ALL_MODES, SRC_KUBELET_INIT, ('filter', 'nat', 'mangle'), severity='warning',
                               note='kubelet creates KUBE-IPTABLES-HINT and its canary chains with iptables; without '
                               'the tables it logs "Failed to initialize iptables rules" and runs on')
    entries += [
    ]
    # No kubelet or kube-proxy code path uses REDIRECT, and COMMENT only where kube-proxy writes iptables rules (its
    # own rows above); kubeadm's preflight (system-validators) refuses a node without them, k0s sysinfo fails on them.
    for dist, severity, source in (('kubeadm', 'error', SRC_VALIDATORS), ('k0s', 'warning', SRC_K0S_SYSINFO)):
        why = ('kubeadm preflight (system-validators) refuses the node without it' if dist == 'kubeadm'
               else 'k0s sysinfo reports it as required for workers')
        entries += [
            _opt('NETFILTER_XT_TARGET_REDIRECT', KL, ALL_MODES, source, module='xt_REDIRECT', severity=severity,
                 distributions=(dist,), any_of='kubelet:redirect:' + dist, on_demand=True,
                 xtables=(('target', 'REDIRECT'),),
                 note=why + ' (alias IP_NF_TARGET_REDIRECT)'),
            _opt('IP_NF_TARGET_REDIRECT', KL, ALL_MODES, source, any_of='kubelet:redirect:' + dist, severity=severity,
                 distributions=(dist,), note='transitional alias of NETFILTER_XT_TARGET_REDIRECT; the validator '
                 'accepts either'),
            _opt('NETFILTER_XT_MATCH_COMMENT', KL, ALL_MODES, source, module='xt_comment', on_demand=True,
                 severity=severity, distributions=(dist,), xtables=(('match', 'comment'),), note=why),
        ]

    # ---- CNI: flannel (vxlan default backend, bridge + portmap CNI plugins, iptables masquerade/forward rules)
    fl = 'cni:flannel'
    entries += _xt_common(fl, ALL_MODES, SRC_FLANNEL, fl + ':', note='flannel masquerade and forward rules')
    entries += [
        _opt('VXLAN', fl, ALL_MODES, SRC_FLANNEL + '; ' + SRC_K3S, module='vxlan', on_demand=True,
             note='the default vxlan backend; autoloaded when the link is created (rtnl-link-vxlan)'),
        _opt('BRIDGE', fl, ALL_MODES, SRC_CNI_BRIDGE + '; ' + SRC_K3S, module='bridge', on_demand=True,
             note='cni0 bridge of the bridge CNI plugin'),
        _opt('VETH', fl, ALL_MODES, SRC_CNI_BRIDGE + '; ' + SRC_K3S, module='veth', on_demand=True),
        _opt('BRIDGE_NETFILTER', fl, ALL_MODES, SRC_K3S + '; ' + SRC_K8S_RUNTIME_DOC, module='br_netfilter',
             note='bridged pod traffic through iptables; nothing loads br_netfilter on demand'),
        _opt('NETFILTER_XT_MATCH_MULTIPORT', fl, ALL_MODES, SRC_PORTMAP + '; ' + SRC_K3S, module='xt_multiport',
             on_demand=True, xtables=(('match', 'multiport'),), note='portmap plugin (hostPort) -m multiport'),
        _opt('NETFILTER_XT_NAT', fl, ALL_MODES, SRC_PORTMAP, module='xt_nat', on_demand=True,
             xtables=(('target', 'DNAT'), ('target', 'SNAT')), note='portmap plugin (hostPort) -j DNAT'),
    ]
    entries += _backend_tables(fl, ALL_MODES, SRC_FLANNEL, ('filter', 'nat'))

    # ---- CNI: kube-router (network policy always; ipvs service proxy when it replaces kube-proxy)
    kr = 'cni:kube-router'
    entries += _xt_common(kr, ALL_MODES, SRC_KR_NPC + '; ' + SRC_KR_NSC, kr + ':')
    entries += [
        _opt('IP_SET', kr, ALL_MODES, SRC_KR_NPC, module='ip_set', on_demand=True, note='policy ipsets'),
        _opt('IP_SET_HASH_IP', kr, ALL_MODES, SRC_KR_NPC, module='ip_set_hash_ip', on_demand=True),
        _opt('IP_SET_HASH_NET', kr, ALL_MODES, SRC_KR_NPC, module='ip_set_hash_net', on_demand=True),
        _opt('NETFILTER_XT_SET', kr, ALL_MODES, SRC_KR_NPC, module='xt_set', on_demand=True,
             xtables=(('match', 'set'),), note='-m set --match-set'),
        _opt('NETFILTER_XT_MATCH_MULTIPORT', kr, ALL_MODES, SRC_KR_NPC, module='xt_multiport', on_demand=True,
             xtables=(('match', 'multiport'),), note='-m multiport --dports (node port range)'),
        _opt('NETFILTER_XT_MATCH_LIMIT', kr, ALL_MODES, SRC_KR_NPC, module='xt_limit', on_demand=True,
             xtables=(('match', 'limit'),), note='rate limit on the NFLOG rule for dropped packets'),
        _opt('NETFILTER_XT_TARGET_NFLOG', kr, ALL_MODES, SRC_KR_NPC, module='xt_NFLOG', on_demand=True,
             xtables=(('target', 'NFLOG'),), note='-j NFLOG --nflog-group 100 for dropped packets'),
        _opt('BRIDGE', kr, ALL_MODES, SRC_CNI_BRIDGE, module='bridge', on_demand=True, note='kube-bridge'),
        _opt('VETH', kr, ALL_MODES, SRC_CNI_BRIDGE, module='veth', on_demand=True),
        _opt('BRIDGE_NETFILTER', kr, ALL_MODES, SRC_K8S_RUNTIME_DOC, module='br_netfilter',
             note='bridged pod traffic through iptables; nothing loads br_netfilter on demand'),
        _opt('DUMMY', kr, ('none',), SRC_KR_NSC, module='dummy', on_demand=True,
             note='kube-dummy-if, the dummy device of the service proxy that holds the Service addresses'),
        _opt('IP_VS', kr, ('none',), SRC_KR_NSC, module='ip_vs', on_demand=True,
             note='only when kube-router runs its ipvs service proxy (--run-service-proxy) instead of kube-proxy'),
        _opt('IP_VS_RR', kr, ('none',), SRC_KR_NSC, module='ip_vs_rr', on_demand=True,
             note='default scheduler of the service proxy'),
        _opt('IP_VS_NFCT', kr, ('none',), SRC_KR_NSC, note='bool: ipvs connections in conntrack'),
        _opt('NETFILTER_XT_MATCH_IPVS', kr, ('none',), SRC_KR_NSC, module='xt_ipvs', on_demand=True,
             xtables=(('match', 'ipvs'),),
             note='-m ipvs --ipvs --vdir ORIGINAL --vmethod MASQ in the service proxy masquerade rule'),
    ]
    entries += _conntrack_nat(kr, ('none',), SRC_KR_NSC)
    entries += _backend_tables(kr, ALL_MODES, SRC_KR_NPC, ('filter', 'nat'))

    # ---- CNI: calico (iptables dataplane)
    ca = 'cni:calico'
    entries += _xt_common(ca, ALL_MODES, SRC_CALICO, ca + ':')
    entries += [
        _opt('IP_SET', ca, ALL_MODES, SRC_CALICO, module='ip_set', on_demand=True),
        _opt('NETFILTER_XT_SET', ca, ALL_MODES, SRC_CALICO, module='xt_set', on_demand=True,
             xtables=(('match', 'set'),)),
        _opt('NETFILTER_XT_MATCH_MULTIPORT', ca, ALL_MODES, SRC_CALICO, module='xt_multiport', on_demand=True,
             xtables=(('match', 'multiport'),)),
        _opt('NETFILTER_XT_MATCH_U32', ca, ALL_MODES, SRC_CALICO, module='xt_u32', on_demand=True,
             xtables=(('match', 'u32'),)),
        _opt('IP_NF_MATCH_RPFILTER', ca, ALL_MODES, SRC_CALICO, families=V4, module='ipt_rpfilter',
             on_demand=True, xtables=(('match', 'rpfilter'),)),
        _opt('IP6_NF_MATCH_RPFILTER', ca, ALL_MODES, SRC_CALICO, families=V6, module='ip6t_rpfilter',
             on_demand=True, xtables=(('match', 'rpfilter'),)),
        _opt('IP_NF_TARGET_REJECT', ca, ALL_MODES, SRC_CALICO, families=V4, module='ipt_REJECT', on_demand=True,
             xtables=(('target', 'REJECT'),)),
        _opt('IP6_NF_TARGET_REJECT', ca, ALL_MODES, SRC_CALICO, families=V6, module='ip6t_REJECT',
             on_demand=True, xtables=(('target', 'REJECT'),)),
        _opt('NF_CT_NETLINK', ca, ALL_MODES, SRC_CALICO, module='nf_conntrack_netlink', on_demand=True,
             note='conntrack entries are flushed over netlink'),
        _opt('NETFILTER_XT_MATCH_IPVS', ca, ('ipvs',), SRC_CALICO, module='xt_ipvs', on_demand=True,
             xtables=(('match', 'ipvs'),), note='only with kube-proxy in ipvs mode'),
        _opt('NET_IPIP', ca, ALL_MODES, SRC_CALICO, module='ipip', on_demand=True, required=False,
             note='only with Calico networking in IPIP mode'),
    ]
    entries += _backend_tables(ca, ALL_MODES, SRC_CALICO, ('filter', 'nat', 'mangle'))

    # ---- CNI: canal (Calico's iptables policy dataplane and CNI plugin, flannel's vxlan networking)
    cn = 'cni:canal'
    entries += [KernelOption(**dict(vars(e), component=cn, source=SRC_CANAL + '; ' + e.source,
                                    any_of=(e.any_of.replace(ca, cn, 1) if e.any_of else None)))
                for e in list(entries) if e.component == ca]
    entries += [_opt('VXLAN', cn, ALL_MODES, SRC_CANAL + '; ' + SRC_FLANNEL, module='vxlan', on_demand=True,
                     note='flannel\'s vxlan backend (the default)')]

    # ---- CNI: other (a CNI the catalog does not know): what a bridge-based one would need, for the record
    entries += [
        _opt('BRIDGE_NETFILTER', 'cni:other', PROXY_MODES, SRC_KUBEADM_BRIDGE + '; ' + SRC_K8S_RUNTIME_DOC,
             module='br_netfilter', severity='info',
             note='only CNIs that put pods on a Linux bridge need it (flannel, the bridge plugin, kube-router); '
             'kubeadm dropped the check for that reason'),
    ]

    # ---- CNI: cilium (eBPF dataplane)
    ci = 'cni:cilium'
    for symbol, module, note in (
            ('BPF', None, ''), ('BPF_SYSCALL', None, ''), ('BPF_JIT', None, ''),
            ('NET_CLS_BPF', 'cls_bpf', 'tc bpf classifier'), ('NET_CLS_ACT', None, ''),
            ('NET_SCH_INGRESS', 'sch_ingress', 'clsact/ingress qdisc'), ('CRYPTO_SHA1', None, ''),
            ('CRYPTO_USER_API_HASH', 'algif_hash', ''), ('CGROUPS', None, ''), ('CGROUP_BPF', None, ''),
            ('PERF_EVENTS', None, ''), ('SCHEDSTATS', None, '')):
        entries.append(_opt(symbol, ci, ALL_MODES, SRC_CILIUM, module=module, on_demand=module is not None,
                            note=('base requirement; ' + note).rstrip('; ')))
    entries += [
        _opt('VXLAN', ci, ALL_MODES, SRC_CILIUM, module='vxlan', on_demand=True,
             note='tunnel routing mode (the default, vxlan)'),
        _opt('GENEVE', ci, ALL_MODES, SRC_CILIUM, module='geneve', on_demand=True, required=False,
             note='only with tunnelProtocol: geneve'),
        _opt('NETFILTER_XT_SET', ci, ALL_MODES, SRC_CILIUM, module='xt_set', on_demand=True, required=False,
             xtables=(('match', 'set'),), note='iptables-based masquerading (not with BPF masquerading)'),
        _opt('IP_SET', ci, ALL_MODES, SRC_CILIUM, module='ip_set', on_demand=True, required=False,
             note='iptables-based masquerading'),
        _opt('IP_SET_HASH_IP', ci, ALL_MODES, SRC_CILIUM, module='ip_set_hash_ip', on_demand=True, required=False,
             note='iptables-based masquerading'),
        _opt('NETFILTER_XT_TARGET_TPROXY', ci, ALL_MODES, SRC_CILIUM, module='xt_TPROXY', on_demand=True,
             required=False, xtables=(('target', 'TPROXY'),), note='L7 and FQDN policies'),
        _opt('NETFILTER_XT_TARGET_CT', ci, ALL_MODES, SRC_CILIUM, module='xt_CT', on_demand=True, required=False,
             xtables=(('target', 'CT'),), note='L7 and FQDN policies'),
        _opt('NETFILTER_XT_MATCH_SOCKET', ci, ALL_MODES, SRC_CILIUM, module='xt_socket', on_demand=True,
             required=False, xtables=(('match', 'socket'),), note='L7 and FQDN policies'),
        _opt('NETFILTER_XT_MARK', ci, ALL_MODES, SRC_CILIUM, module='xt_mark', on_demand=True, required=False,
             xtables=(('match', 'mark'), ('target', 'MARK')), note='L7 and FQDN policies'),
    ]
    return tuple(entries)


CATALOG = _build_catalog()  # type: Tuple[KernelOption, ...]

VERSION_REQUIREMENTS = (
    VersionRequirement('kernel', '5.13', KP, ('nftables',), SRC_KP_NFT_SUPPORTED,
                       note='kube-proxy refuses nftables mode on older kernels unless '
                       'KUBE_PROXY_NFTABLES_SKIP_KERNEL_VERSION_CHECK is set'),
    VersionRequirement('nft', '1.0.1', KP, ('nftables',), SRC_KP_NFT_SUPPORTED,
                       note='knftables requires nft >= 1.0.1 (where kube-proxy uses the host binary)'),
    VersionRequirement('kernel', '5.4', 'cni:cilium', ALL_MODES, SRC_CILIUM, note='or 4.18 on RHEL 8.6'),
)  # type: Tuple[VersionRequirement, ...]


# --------------------------------------------------------------------------------------------------------------
# Selection helpers

def catalog_symbols(entries: Optional[Iterable[KernelOption]] = None) -> List[str]:
    """Every symbol of the catalog (without ``CONFIG_``), sorted, unique."""
    return sorted({entry.symbol for entry in (CATALOG if entries is None else entries)})


def option_module_map(kernel_version: Optional[str] = None) -> Dict[str, str]:
    """Symbol -> module name for every entry that builds a module on ``kernel_version`` (unknown: entries whose
    module does not depend on the version)."""
    return dict(module_pairs(kernel_version))


def module_pairs(kernel_version: Optional[str] = None) -> List[Tuple[str, str]]:
    """(symbol, module) pairs, unique, newer spellings first (several symbols may build one module, e.g.
    IP_NF_IPTABLES_LEGACY and IP_NF_IPTABLES -> ip_tables): the kernel_config module picks the one the config
    defines."""
    seen = set()
    pairs = []
    ordered = sorted(CATALOG, key=lambda e: tuple(-x for x in (version_tuple(e.kernel_min) or (0, 0, 0))))
    for entry in ordered:
        module = entry.module_for_kernel(kernel_version)
        # if_defined entries (backported legacy toggles) stay in regardless of the version; the config decides
        if module is None or (not entry.if_defined and not entry.applies_to_kernel(kernel_version)):
            continue
        key = (entry.symbol, module)
        if key in seen:
            continue
        seen.add(key)
        pairs.append(key)
    return pairs


def components_for(cni: Optional[str] = None, mode: Optional[str] = None) -> Tuple[str, ...]:
    """kube-proxy (not in mode ``none``), kubelet, and ``cni:<cni>`` when the CNI is one the catalog knows."""
    comps = [] if mode == 'none' else [KP]
    comps.append(KL)
    if cni and ('cni:' + cni) in COMPONENTS:
        comps.append('cni:' + cni)
    return tuple(comps)


def options_for(mode: str, backend: str, family: str, component: Optional[str] = None, cni: Optional[str] = None,
                kernel_version: Optional[str] = None, required_only: bool = False,
                distribution: Optional[str] = None) -> List[KernelOption]:
    """Catalog entries for one mode x backend x family, for one ``component`` or (default) every component of the
    node (kube-proxy unless mode ``none``, kubelet, the CNI). With ``kernel_version``, entries for symbols that do
    not exist on that kernel are left out; with ``distribution``, entries for other distributions (without it, only
    the entries that apply everywhere)."""
    if mode not in MODES:
        raise ValueError('unknown mode %r (expected one of %s)' % (mode, ', '.join(MODES)))
    if backend not in BACKENDS:
        raise ValueError('unknown backend %r (expected one of %s)' % (backend, ', '.join(BACKENDS)))
    if family not in FAMILIES:
        raise ValueError('unknown family %r (expected one of %s)' % (family, ', '.join(FAMILIES)))
    comps = (component,) if component else components_for(cni, mode)
    out = []
    for entry in CATALOG:
        if entry.component not in comps or mode not in entry.modes or backend not in entry.backends \
                or family not in entry.families:
            continue
        if required_only and not entry.required:
            continue
        if entry.distributions and distribution not in entry.distributions:
            continue
        if kernel_version is not None and not entry.applies_to_kernel(kernel_version):
            continue
        out.append(entry)
    return out


def any_of_groups(entries: Optional[Iterable[KernelOption]] = None) -> Dict[str, List[KernelOption]]:
    groups = {}  # type: Dict[str, List[KernelOption]]
    for entry in (CATALOG if entries is None else entries):
        if entry.any_of:
            groups.setdefault(entry.any_of, []).append(entry)
    return groups


def version_requirements_for(mode: str, cni: Optional[str] = None) -> List[VersionRequirement]:
    comps = components_for(cni, mode)
    return [req for req in VERSION_REQUIREMENTS if req.component in comps and mode in req.modes]


# ==============================================================================================================
# Per-mode, per-CNI and per-distribution tables. Every mode of MODES, every CNI of CNI_CHOICES and every distribution
# of DISTRIBUTIONS has a row in each (test__catalog.py checks it).

SEVERITIES = ('error', 'warning', 'info', 'ok')
MODULE_STATES = ('builtin', 'loaded', 'loadable', 'missing', 'unknown')

HINT_CHAIN = 'KUBE-IPTABLES-HINT'
KUBELET_CANARY = 'KUBE-KUBELET-CANARY'
PROXY_CANARY = 'KUBE-PROXY-CANARY'
KUBE_CHAIN_NAMES = (HINT_CHAIN, KUBELET_CANARY, PROXY_CANARY)

SRC_K3S_PATH = ('k3s-io/k3s cmd/k3s/main.go stageAndRun: PATH = data/cni, data/current/bin, host PATH, '
                'data/current/bin/aux (bin/aux before the host PATH with --prefer-bundled-bin)')
SRC_K3S_SYSSETUP = ('k3s-io/k3s pkg/agent/syssetup/setup.go Configure: modprobe br_netfilter, iptable_nat, ...; '
                    'sets net.ipv4.conf.all.forwarding=1, bridge-nf-call-iptables=1 (with kube-proxy or flannel), '
                    'IPv6 forwarding and bridge-nf-call-ip6tables with IPv6')
SRC_K0S_IPTABLES = 'k0sproject/k0s pkg/component/worker/iptables.go (bundled iptables in /var/lib/k0s/bin)'
SRC_RKE2_BIN = 'rancher/rke2 pkg/rke2/rke2.go (data dir /var/lib/rancher/rke2, bin/ of the runtime image)'


@dataclass(frozen=True)
class ModeRow:
    """What a kube-proxy mode needs from the host's userspace and where its chains sit."""

    kube_proxy_tools: Tuple[str, ...]   # the binaries kube-proxy calls in this mode
    ipv6_tools: Tuple[str, ...]         # added when the node carries IPv6
    hint_severity: str                  # no host iptables: severity for kubelet's KUBE-IPTABLES-HINT (images follow it
    #                                     in iptables/ipvs mode; only iptables-based CNIs care otherwise)
    filter_priority: int                # kube-proxy's filter-hook priority (iptables-nft's filter table: 0;
    #                                     nftables mode: dstnat - 10)
    source: str


MODE_ROWS = {
    'iptables': ModeRow(('iptables',), ('ip6tables',), 'warning', 0, SRC_KP_IPTABLES),
    'ipvs': ModeRow(('iptables', 'ipset'), ('ip6tables',), 'warning', 0, SRC_KP_IPVS + '; ' + SRC_KP_IPVS_IPSET),
    'nftables': ModeRow(('nft',), (), 'info', -110, SRC_KP_NFTABLES),
    'none': ModeRow((), (), 'info', 0, 'no kube-proxy (kube-proxy replacement of the CNI)'),
}  # type: Dict[str, ModeRow]


@dataclass(frozen=True)
class CniRow:
    """What a CNI needs from the host (beyond its catalog entries, component ``cni:<name>``)."""

    host_iptables: str        # severity when the host has no iptables binary
    host_iptables_why: str
    bridge: Optional[bool]    # pods on a Linux bridge (br_netfilter + bridge-nf-call-iptables matter); None: unknown
    #                           (canal: Calico's CNI plugin gives pods a veth with host routes, no bridge)
    source: str


CNI_ROWS = {
    'kube-router': CniRow(
        'error', 'kube-router\'s network policy controller programs iptables and ipsets, and its CNI chain runs the '
        'portmap plugin (hostPort) on the host, which calls the host\'s iptables (%s; %s)' % (SRC_KR_NPC, SRC_PORTMAP),
        True, SRC_KR_NPC + '; ' + SRC_CNI_BRIDGE),
    'flannel': CniRow(
        'error', 'flannel programs its masquerade and FORWARD rules with iptables, and its CNI chain runs the portmap '
        'plugin (hostPort) on the host, which calls the host\'s iptables (%s; %s)' % (SRC_FLANNEL, SRC_PORTMAP),
        True, SRC_FLANNEL + '; ' + SRC_CNI_BRIDGE),
    'calico': CniRow(
        'error', 'Calico\'s iptables dataplane (the default) has Felix program iptables and must agree with the '
        'host\'s backend, and the portmap plugin calls the host\'s iptables (%s)' % SRC_CALICO,
        False, SRC_CALICO),
    'canal': CniRow(
        'error', 'Canal runs Calico\'s iptables policy dataplane (Felix programs iptables and must agree with the '
        'host\'s backend) and the portmap plugin calls the host\'s iptables (%s; %s)' % (SRC_CANAL, SRC_PORTMAP),
        False, SRC_CANAL),
    'cilium': CniRow(
        'info', 'Cilium\'s eBPF dataplane does not need the host\'s iptables binary (its agent image carries iptables '
        'for masquerading and the L7 proxy) (%s)' % SRC_CILIUM,
        False, SRC_CILIUM),
    'other': CniRow(
        'warning', 'most CNIs and the portmap plugin (hostPort) call the host\'s iptables; check what your CNI needs '
        '(%s)' % SRC_PORTMAP,
        None, SRC_PORTMAP),
}  # type: Dict[str, CniRow]
CNI_CHOICES = tuple(CNI_ROWS)


@dataclass(frozen=True)
class DistributionRow:
    """Where kube-proxy runs and which netfilter userspace the distribution brings along.

    kube_proxy_runs: ``host`` (kube-proxy on the node with the node's binaries), ``k3s`` (in-process in k3s, with the
    host's binaries or k3s's bundled ones), ``image`` (from a container image carrying its own iptables/nft/ipset)."""

    kube_proxy_runs: str
    bundled_tools: Tuple[str, ...]      # tools it ships for the components it runs on the host (kubelet, its CNI)
    bundled_dirs: Tuple[str, ...]       # where those binaries are (gathered with netfilter_backend_facts search_paths)
    loads_modules: Tuple[str, ...]      # modules it modprobes itself when it starts
    sets_sysctls: bool                  # it sets forwarding and bridge-nf-call-iptables itself when it starts
    source: str


DISTRIBUTION_ROWS = {
    # k3s-root userspace in data/current/bin/aux (nft: see K3S_NFT_BUNDLED)
    'k3s': DistributionRow('k3s', ('iptables', 'ip6tables', 'ipset'),
                           ('/var/lib/rancher/k3s/data/current/bin', '/var/lib/rancher/k3s/data/current/bin/aux'),
                           ('overlay', 'nf_conntrack', 'br_netfilter', 'iptable_nat', 'iptable_filter', 'ip6table_nat',
                            'ip6table_filter'), True, SRC_K3S_PATH + '; ' + SRC_K3S_SYSSETUP),
    'k0s': DistributionRow('image', ('iptables', 'ip6tables'), ('/var/lib/k0s/bin',), (), False, SRC_K0S_IPTABLES),
    'kubeadm': DistributionRow('image', (), (), (), False, 'kubernetes/kubernetes cmd/kubeadm (kube-proxy DaemonSet)'),
    'rke2': DistributionRow('image', (), ('/var/lib/rancher/rke2/bin',), (), False, SRC_RKE2_BIN),
    'generic': DistributionRow('host', (), (), (), False, 'kube-proxy run from the node\'s own binaries'),
}  # type: Dict[str, DistributionRow]
DISTRIBUTIONS = tuple(DISTRIBUTION_ROWS)

SRC_K3S_NFT_BUNDLE = ('k3s-io/k3s#11267 "Add nft to k3s-root userspace" (backports #11291 v1.31, #11292 v1.30, '
                      '#11293 v1.29), released in v1.31.3+k3s1, v1.30.7+k3s1, v1.29.11+k3s1 and every v1.32+; '
                      'before it kube-proxy --proxy-mode=nftables exits "could not find nftables binary"')
SRC_K3S_CHECK_STATISTIC = ('k3s-io/k3s#11860 (issue #11862, backports #11907 #11908 #11909 #11946): check-config '
                           'checks CONFIG_NETFILTER_XT_MATCH_STATISTIC from v1.32.3, v1.31.7, v1.30.11, v1.29.15')
SRC_IPVS_DEPRECATION = ('KEP-5495, kubernetes/kubernetes#134539 (v1.35: "The ipvs proxier is now deprecated"); '
                        'feature gate KubeProxyIPVS deprecated in v1.37 (kubernetes/kubernetes#139397); '
                        'plan: default false in v1.40, locked in v1.43 (kubernetes/enhancements#6120)')
SRC_NFT_113 = ('kubernetes/kubernetes#137501 (fix for nft 1.1.3 output; cherry-pick #137809 to release-1.33, '
               'March 2026)')
SRC_K8S_KERNEL_DOC = 'https://kubernetes.io/docs/reference/node/kernel-version-requirements/'
SRC_KUBEADM_PREFLIGHT = ('kubernetes/kubernetes cmd/kubeadm/app/preflight/checks.go '
                         '(FileContent--proc-sys-net-ipv4-ip_forward)')
SRC_WRAPPER = 'kubernetes-sigs/iptables-wrappers pkg/xtables/detect.go'
SRC_KUBELET_HINT = SRC_KUBELET + ' (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY)'

# k3s release facts: (minor series, first patch release of that series with the fact). Series newer than the
# newest listed have it from their first release; series older than the oldest listed never have it.
K3S_NFT_BUNDLED = ((29, 11), (30, 7), (31, 3), (32, 0))
K3S_CHECK_CONFIG_STATISTIC = ((29, 15), (30, 11), (31, 7), (32, 3), (33, 0))

# nft releases known to break kube-proxy's nftables mode (version -> why, source)
NFT_KNOWN_BAD = {
    '1.1.3': ('nft 1.1.3 changed its output in a way kube-proxy\'s nftables mode could not handle until '
              'kubernetes/kubernetes#137501', SRC_NFT_113),
}

# nft's named base-chain priorities (nft(8) CHAINS, "Table 6. Standard priority names").
NFT_PRIORITY_NAMES = {'raw': -300, 'mangle': -150, 'dstnat': -100, 'filter': 0, 'security': 50, 'srcnat': 100,
                      'out': 100, 'in': -100}

# How the missing statistic match shows in kube-proxy's log.
STATISTIC_FAILURE = ('iptables-restore fails with "Warning: Extension statistic revision 0 not supported, missing '
                     'kernel module?" / "iptables-restore: line N failed"')


# ==============================================================================================================
# Packages. Tool -> package per OS (looked up as distribution-major, os_family-major, distribution, os_family, the
# first that exists wins; the keys are ansible_facts['distribution'] / ['os_family'] values).
TOOLS = ('iptables', 'ip6tables', 'nft', 'ipset')
TOOL_PACKAGES = {
    # Alpine: ip6tables is a package of its own.
    'Alpine': {'iptables': 'iptables', 'ip6tables': 'ip6tables', 'nft': 'nftables', 'ipset': 'ipset'},
    # Arch Linux: iptables-nft (the nf_tables variant; it replaces the legacy iptables package).
    'Archlinux': {'iptables': 'iptables-nft', 'ip6tables': 'iptables-nft', 'nft': 'nftables', 'ipset': 'ipset'},
    # Debian and Ubuntu: iptables ships iptables-nft and iptables-legacy (switched with update-alternatives).
    'Debian': {'iptables': 'iptables', 'ip6tables': 'iptables', 'nft': 'nftables', 'ipset': 'ipset'},
    # RHEL 8 family: the iptables package is the nf_tables variant already.
    'RedHat-8': {'iptables': 'iptables', 'ip6tables': 'iptables', 'nft': 'nftables', 'ipset': 'ipset'},
    # RHEL, Rocky, Alma, CentOS Stream 9 and 10, Fedora: only the nf_tables backend exists (iptables-nft).
    'RedHat': {'iptables': 'iptables-nft', 'ip6tables': 'iptables-nft', 'nft': 'nftables', 'ipset': 'ipset'},
    # SUSE (SLES, openSUSE Leap and Tumbleweed).
    'Suse': {'iptables': 'iptables', 'ip6tables': 'iptables', 'nft': 'nftables', 'ipset': 'ipset'},
}  # type: Dict[str, Dict[str, str]]

# Packages that ship the kernel modules left out of the default kernel package, per release.
EXTRA_MODULES_PACKAGE = {'Ubuntu': 'linux-modules-extra-%s', 'RedHat': 'kernel-modules-extra-%s'}
RHEL_FAMILY = ('RedHat', 'Rocky', 'AlmaLinux', 'CentOS', 'OracleLinux', 'Fedora')

# Well-known modules outside the catalog that users add with kubenode_kernel_modules_extra, and the option that
# builds each (kernel_config_facts is asked for these symbols too).
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

# Remedy kinds and the role variable that allows each (a finding's remedy names its flag).
REMEDY_FLAGS = {
    'load_module': 'kubenode_kernel_modules_remediate',
    'load_configs': 'kubenode_kernel_modules_load_configs',
    'install_package': 'kubenode_kernel_modules_install_extra',
    'sysctl': 'kubenode_sysctl_remediate',
    'install_tool': 'kubenode_netfilter_tools_remediate',
    'iptables_alternative': 'kubenode_iptables_backend',
    'remove_nft_rules': 'kubenode_nft_conflicts_remediate',
    'patch_daemonset': 'kubenode_kube_router_remediate',
}


def tool_packages(distribution: Optional[str], os_family: Optional[str],
                  major: Optional[str] = None) -> Optional[Dict[str, str]]:
    """The tool -> package row for an OS (see TOOL_PACKAGES), or None when the OS is not in the table."""
    keys = []
    if major:
        keys += ['%s-%s' % (distribution, major), '%s-%s' % (os_family, major)]
    keys += [distribution, os_family]
    for key in keys:
        if key in TOOL_PACKAGES:
            return TOOL_PACKAGES[key]
    return None


def extra_modules_package(distribution: Optional[str], os_family: Optional[str], release: str) -> Optional[str]:
    """The package that ships the modules left out of the default kernel package for ``release``, where the
    distribution splits them out (Ubuntu, RHEL family); None elsewhere."""
    if not release:
        return None
    if distribution == 'Ubuntu':
        return EXTRA_MODULES_PACKAGE['Ubuntu'] % release
    if os_family == 'RedHat' or distribution in RHEL_FAMILY:
        return EXTRA_MODULES_PACKAGE['RedHat'] % release
    return None


def bundled_dirs(distribution: Optional[str]) -> List[str]:
    """The directories where ``distribution`` keeps its own netfilter binaries ([] for an unknown one)."""
    row = DISTRIBUTION_ROWS.get(distribution or '')
    return list(row.bundled_dirs) if row else []
