#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_profile_facts
short_description: Detect a Kubernetes node's distribution, kube-proxy mode, CNI and IP families from the node itself
version_added: 0.1.0
author: kubenode.netfilter contributors (@kubenode)
description:
  - Reads the node's own configuration (k3s and RKE2 C(config.yaml) with its C(config.yaml.d) drop-ins and the flags of
    the systemd unit or OpenRC script, k0s's C(k0s.yaml), kubeadm's kube-proxy C(KubeProxyConfiguration) and control
    plane manifests, CNI config files, a running kube-proxy's command line) and the live rules (C(KUBE-SERVICES) in the
    nat table of iptables-nft and iptables-legacy, the nftables tables C(ip kube-proxy) / C(ip6 kube-proxy), the
    C(kube-ipvs0) device, IPVS virtual services).
  - Every value comes with a C(<key>_source) naming the file and key, process or rule it came from, or C(default:) and
    the upstream default assumed, or V(unknown). Every path and command looked at is listed in C(searched).
  - Observes only. Files are read only when they are regular files below O(root) (no symlink or C(..) escape), at most
    1 MiB each; a file that cannot be read or parsed is a status in C(searched), never a failure.
  - The only commands run are C(<binary> --version) (C(k0s version), C(kubeadm version -o short)) of the
    distribution's binary when it exists, and, with O(live_rules), C(nft list chains) (chain headers, no rules; without
    nft C(iptables-nft-save -t nat) and C(ip6tables-nft-save -t nat)) and C(iptables-legacy -t nat -S KUBE-SERVICES 1)
    (and C(ip6tables-legacy)) only when the kernel already has a legacy nat table (listing would otherwise create
    one); each with O(command_timeout).
options:
  root:
    description:
      - Directory every file is looked up under, for example V(/host) when the node's root is mounted there.
    type: path
    default: /
  live_rules:
    description:
      - Run the iptables and nft commands to see which kube-proxy mode's rules are live.
      - They inspect the network namespace the module runs in (the node's when it runs on the node, or in a pod with
        the host network), whatever O(root) is. C(<root>/proc/net/dev) and C(<root>/proc/net/ip_vs) are read either
        way.
    type: bool
    default: true
  command_timeout:
    description:
      - Seconds each command may run before it is stopped and reported as C(unreadable) in C(searched).
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same facts.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  facts:
    support: full
    description: Returns C(ansible_facts.node_profile).
notes:
  - "Precedence: k3s/RKE2 - C(config.yaml), then C(config.yaml.d/*.yaml) in name order (a later file replaces a key,
    C(key+) appends), then the unit's flags (they win); C(disable-kube-proxy) gives V(none). k0s - C(k0s.yaml).
    kubeadm and others - a running kube-proxy's C(--config) file (read through its C(/proc/<pid>/root)) or
    C(--proxy-mode), the kubelet's C(kube-proxy) config map volume, C(/var/lib/kube-proxy/config.conf), a
    C(KubeProxyConfiguration) in C(/etc/kubernetes/*.yaml). CNI config files - the first loadable one in name order."
  - See the collection's C(docs/node_profile_facts.md) for the upstream sources of every format and default.
'''

EXAMPLES = r'''
- name: Learn what the node is
  kubenode.netfilter.node_profile_facts:

- name: Show what kube-proxy is configured for and where that came from
  ansible.builtin.debug:
    msg: "{{ ansible_facts['node_profile']['proxy_mode'] }} ({{ ansible_facts['node_profile']['proxy_mode_source'] }})"

- name: Inspect a node whose root filesystem is mounted at /host, without running iptables or nft
  kubenode.netfilter.node_profile_facts:
    root: /host
    live_rules: false
'''

RETURN = r'''
ansible_facts:
  description: Facts about the node's Kubernetes profile.
  returned: always
  type: dict
  contains:
    node_profile:
      description: What the node is and where each value came from.
      returned: always
      type: dict
      contains:
        distribution:
          description: V(k3s), V(rke2), V(k0s), V(kubeadm), V(generic) (a kubelet, no known distribution) or V(unknown).
          returned: always
          type: str
          sample: k3s
        distribution_source:
          description: The first file or directory that marked the distribution, or V(unknown).
          returned: always
          type: str
          sample: /etc/rancher/k3s/config.yaml
        distribution_version:
          description: The version printed by the distribution's binary (C(--version), C(k0s version),
            C(kubeadm version -o short), C(kubelet --version)); null when no binary exists or it printed none in time.
          returned: always
          type: str
          sample: v1.31.4+k3s1
        distribution_version_source:
          description: The command that printed the version, or V(unknown).
          returned: always
          type: str
          sample: /usr/local/bin/k3s --version
        proxy_mode:
          description: The mode kube-proxy is configured to run, V(iptables), V(nftables), V(ipvs), V(none) (kube-proxy
            disabled) or V(unknown).
          returned: always
          type: str
          sample: nftables
        proxy_mode_source:
          description: >-
            The file and key (C(/etc/rancher/k3s/config.yaml.d/50-mode.yaml: kube-proxy-arg=proxy-mode=ipvs)),
            process (C(/proc/1234/cmdline: --proxy-mode=ipvs)), C(default: <the upstream default assumed>) or
            V(unknown).
          returned: always
          type: str
          sample: "/etc/rancher/k3s/config.yaml: kube-proxy-arg=proxy-mode=nftables"
        proxy_mode_running:
          description: The mode the live rules show (V(ipvs) for a C(kube-ipvs0) device or IPVS virtual services,
            V(nftables) for an C(ip)/C(ip6 kube-proxy) table, V(iptables) for C(KUBE-SERVICES) in a nat table); null
            when none is found (for example before the node joined).
          returned: always
          type: str
          sample: iptables
        proxy_mode_running_source:
          description: The rule or device that showed it (C(iptables-nft nat KUBE-SERVICES)), with C((also found ...))
            when rules of more than one mode are live; V(unknown) when nothing was found.
          returned: always
          type: str
          sample: iptables-nft nat KUBE-SERVICES
        cni:
          description: V(kube-router), V(flannel), V(calico), V(cilium), V(canal), V(other) or V(unknown).
          returned: always
          type: str
          sample: flannel
        cni_source:
          description: >-
            The file and key (a distribution setting or a CNI config file and its first plugin type),
            C(default: ...) or V(unknown).
          returned: always
          type: str
          sample: "/etc/cni/net.d/05-cilium.conflist: type cilium-cni"
        ipv6:
          description: True when the configured cluster or service CIDRs include an IPv6 one (dual-stack too), false
            when they are all IPv4 (or the distribution default is), null when unknown.
          returned: always
          type: bool
          sample: false
        ipv6_source:
          description: >-
            The file and keys the CIDRs came from, C(default: ...) or V(unknown).
          returned: always
          type: str
          sample: "/etc/rancher/k3s/config.yaml: cluster-cidr"
        k3s_prefer_bundled_bin:
          description: k3s C(prefer-bundled-bin) (k3s runs its bundled iptables/nft instead of the host's); false
            when not set or not k3s.
          returned: always
          type: bool
          sample: false
        searched:
          description:
            - Every file, directory and command looked at, in order, each with C(path) and C(status).
            - >-
              C(status) is V(found), V(used) (a reported value came from it), V(absent), or a word and its cause,
              such as C(unreadable: Permission denied), C(invalid: YAML: ...), C(ignored: not a regular file (fifo)),
              C(ignored: resolves outside root (symlink or "..")), C(unreadable: timed out after 5s).
          returned: always
          type: list
          elements: dict
          contains:
            path:
              description: The node-side path (below O(root)) or the command line.
              type: str
            status:
              description: The status, see above.
              type: str
          sample: [{"path": "/etc/rancher/k3s/config.yaml", "status": "used"}]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubenode.netfilter.plugins.module_utils import _node_profile as np
from ansible_collections.kubenode.netfilter.plugins.module_utils._stream import run_stream, stream_lines

MAX_OUTPUT = 64 * 1024
MAX_CHAINS_OUTPUT = 64 * 1024 * 1024


def run(argv, timeout, limit=MAX_OUTPUT):
    """Run argv (no shell, C locale, own process group) with a deadline and an output cap; return
    (rc, stdout, stderr, error), error naming a timeout, an oversized output or a command that would not start."""
    chunks = []
    result = run_stream(argv, chunks.append, timeout=timeout, max_bytes=limit)
    if result.timed_out:
        return None, '', result.stderr, 'timed out after %gs' % timeout
    if result.rc is None or result.error:
        return None, '', result.stderr, result.error or 'could not run'
    return result.rc, b''.join(chunks).decode('utf-8', 'replace'), result.stderr, None


def _first_line(text):
    return (text or '').strip().split('\n')[0][:200]


def save_has_kube_services(path, timeout):
    """Stream ``<ip[6]tables-nft-save> -t nat`` (any size, constant memory); whether it declares KUBE-SERVICES."""
    seen = []

    def on_line(line):
        if line.startswith(':KUBE-SERVICES '):
            seen.append(line)
    result = stream_lines([path, '-t', 'nat'], on_line, timeout=timeout)
    return result, bool(seen)


def version_runner(timeout):
    def run_version(path, args):
        rc, out, err, error = run([path] + list(args), timeout)
        if error:
            return None, np.UNREADABLE + ': ' + error
        if rc != 0:
            return None, np.UNREADABLE + ': rc %d: %s' % (rc, _first_line(err or out))
        return out, np.USED
    return run_version


def live_rules(module, root, timeout, log):
    """KUBE-SERVICES in the nat tables of both iptables backends and both families, and the nftables tables.

    With nft, one ``nft list chains`` (chain headers only, no rules) answers for the nf_tables backend: iptables-nft
    1.8.9 reports a missing chain as "incompatible" and cannot tell it from an unreadable one. Without nft,
    ``iptables-nft-save -t nat`` is read instead. The legacy tools run only when the kernel already has a legacy nat
    table: listing one it does not have would create it."""
    live = np.LiveRules()
    nft = module.get_bin_path('nft')
    label = 'nft list chains'
    nft_ok = False
    if not nft:
        log.add(label, np.ABSENT + ': nft not installed')
    else:
        rc, out, err, error = run([nft, 'list', 'chains'], timeout, limit=MAX_CHAINS_OUTPUT)
        if error:
            log.add(label, np.UNREADABLE + ': ' + error)
        elif rc != 0:
            log.add(label, np.UNREADABLE + ': rc %d: %s' % (rc, _first_line(err or out)))
        else:
            nft_ok = True
            tables, chains = np.parse_nft_chains(out)
            live.nft_tables = tables
            log.add(label, np.FOUND + ': %d tables, %d chains' % (len(tables), len(chains)))
            for family, tool in (('ip', 'iptables-nft'), ('ip6', 'ip6tables-nft')):
                if (family, 'nat', 'KUBE-SERVICES') in chains:
                    live.kube_services.append('%s nat KUBE-SERVICES' % tool)
    for tool, names_file, legacy in (('iptables-nft', None, False), ('ip6tables-nft', None, False),
                                     ('iptables-legacy', '/proc/net/ip_tables_names', True),
                                     ('ip6tables-legacy', '/proc/net/ip6_tables_names', True)):
        if not legacy:
            if nft_ok:
                continue
            save = tool.replace('tables-nft', 'tables-nft-save')
            label = '%s -t nat' % save
            path = module.get_bin_path(save)
            if not path:
                log.add(label, np.ABSENT + ': %s not installed' % save)
                continue
            result, seen = save_has_kube_services(path, timeout)
            if result.timed_out:
                log.add(label, np.UNREADABLE + ': timed out after %gs' % timeout)
            elif result.rc is None or result.error or result.rc != 0:
                log.add(label, np.UNREADABLE + ': ' + (result.error or 'rc %s: %s' % (
                    result.rc, _first_line(result.stderr))))
            elif seen:
                log.add(label, np.FOUND)
                live.kube_services.append('%s nat KUBE-SERVICES' % tool)
            else:
                log.add(label, np.ABSENT)
            continue
        label = '%s -t nat -S KUBE-SERVICES 1' % tool
        try:
            tables = np.read_text(root, names_file).split()
        except np.ReadError as exc:
            log.add(label, np.IGNORED + ': %s %s' % (names_file, exc.status))
            continue
        if 'nat' not in tables:
            log.add(label, np.IGNORED + ': no legacy nat table in %s' % names_file)
            continue
        path = module.get_bin_path(tool)
        if not path:
            log.add(label, np.ABSENT + ': %s not installed' % tool)
            continue
        rc, out, err, error = run([path, '-w', '5', '-t', 'nat', '-S', 'KUBE-SERVICES', '1'], timeout)
        if error:
            log.add(label, np.UNREADABLE + ': ' + error)
        elif rc == 0:
            log.add(label, np.FOUND)
            live.kube_services.append('%s nat KUBE-SERVICES' % tool)
        elif 'No chain/target/match' in err:
            log.add(label, np.ABSENT)
        else:
            log.add(label, np.UNREADABLE + ': rc %d: %s' % (rc, _first_line(err or out)))
    return live


def gather(module, root, use_live, timeout):
    gatherer = np.Gatherer(root, run_version=version_runner(timeout))
    if use_live:
        gatherer.live = lambda log: live_rules(module, root, timeout, log)
    else:
        gatherer.log.add('iptables/nft commands', np.IGNORED + ': live_rules=false')
    return gatherer.gather().as_dict()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', default='/'),
            live_rules=dict(type='bool', default=True),
            command_timeout=dict(type='float', default=5),
        ),
        supports_check_mode=True,
    )
    root = module.params['root'] or '/'
    if not os.path.isdir(root):
        module.fail_json(msg='root %s is not a directory' % root)
    if module.params['command_timeout'] <= 0:
        module.fail_json(msg='command_timeout must be greater than 0, got %s' % module.params['command_timeout'])
    facts = gather(module, root, module.params['live_rules'], module.params['command_timeout'])
    module.exit_json(changed=False, ansible_facts={'node_profile': facts})


if __name__ == '__main__':
    main()
