#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kernel_config_facts
short_description: Report what the running kernel was built with, for Kubernetes networking
version_added: 0.1.0
author: kubenode.netfilter contributors (@kubenode)
description:
  - Finds the kernel configuration (C(/proc/config.gz), C(/boot/config-<release>), ...) and parses it.
  - Reports the state of every option of the collection's requirement catalog, the state of the modules those options
    build (built-in, loaded, loadable, missing), and the xtables matches and targets the running kernel registered.
  - Observes only. It never loads a module (not even C(configs) to make C(/proc/config.gz) appear) and writes nothing.
  - Not finding a configuration is a state (RV(ansible_facts.kernel_config.found=false)), not a failure.
options:
  config_path:
    description:
      - An explicit kernel config file, plain text or gzip (told by content, not by name). Looked up below O(root).
      - When given, no search takes place, and a file that cannot be read or parsed fails the module.
    type: path
  root:
    description:
      - Directory every path is looked up under, for example V(/host) when the node's root is mounted there.
    type: path
    default: /
  kernel_release:
    description:
      - Kernel release to look for (C(uname -r) form). Default is the running kernel's, read from
        C(<root>/proc/sys/kernel/osrelease).
    type: str
  options:
    description:
      - Extra symbols to report, with or without the C(CONFIG_) prefix.
    type: list
    elements: str
    default: []
  all_options:
    description:
      - Report every symbol of the config file, not only the catalog's and O(options).
      - At most 20000 symbols of the file are added (in name order; the catalog's and O(options) always come on top);
        RV(ansible_facts.kernel_config.all_options_truncated) says when some were left out. A file with more than
        50000 distinct symbols is not taken for a kernel config at all (real ones have 2000 to 12000).
    type: bool
    default: false
  kernels:
    description:
      - V(running) reports the running kernel only.
      - V(all) also reports every installed kernel (RV(ansible_facts.kernel_config.installed)) and the one the node
        boots next (RV(ansible_facts.kernel_config.next_boot)), read from the boot loader's files without writing
        anything.
    type: str
    choices: [running, all]
    default: running
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same facts.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  facts:
    support: full
    description: Returns C(ansible_facts.kernel_config).
notes:
  - The search order is C(/proc/config.gz), C(/boot/config-<release>), C(/boot/config-<flavour>) (the part of the release
    after its last dash), C(/lib/modules/<release>/config), C(/usr/lib/modules/<release>/config),
    C(/usr/lib/ostree-boot/config-<release>), C(/usr/lib/kernel/config-<release>), C(/usr/src/linux-<release>/.config),
    C(/usr/src/linux-headers-<release>/.config), C(/lib/modules/<release>/build/.config), C(/usr/src/linux/.config).
  - A registered xtables extension proves support; one not registered proves nothing, because extensions register when
    first loaded and kernels without C(ip_tables) have no such files.
  - C(/sys/module/<name>) is not taken as proof of absence; built-in modules often have no entry there.
  - Every path is resolved below O(root) as a chroot would (absolute symlinks start again at O(root), C(..) stops
    there); a release read from the node or given in O(kernel_release) must be one path component. Only regular files
    are read (procfs and sysfs files included), each up to a bound (64 MiB for a config, 32 MiB for C(modules.dep)).
  - O(root) must be an existing directory, and no argument may contain a NUL byte; otherwise the module fails.
  - "With O(kernels=all): installed kernels are the releases with a C(/boot/config-<release>) or a
    C(lib/modules/<release>) / C(usr/lib/modules/<release>) directory. The next boot is read from, in this order:
    systemd-boot (C(loader/loader.conf) on C(/efi), C(/boot) or C(/boot/efi), the C(LoaderEntryOneShot) and
    C(LoaderEntryDefault) EFI variables, BLS type #1 entries), GRUB with BLS entries (C(/boot/loader/entries),
    C(saved_entry) / C(next_entry) in C(grubenv)), GRUB (C(grub.cfg) menu entries and C(set default), C(grubenv),
    C(GRUB_DEFAULT) in C(/etc/default/grub) when C(grub.cfg) sets none), the C(/boot/vmlinuz) or C(/vmlinuz) link."
seealso:
  - name: GNU GRUB manual
    description: The C(default) variable, the environment block (C(grubenv)) and C(GRUB_DEFAULT).
    link: https://www.gnu.org/software/grub/manual/grub/grub.html
  - name: Boot Loader Specification
    description: Type 1 entries (C(loader/entries/*.conf)) and their sort order, read by GRUB's blscfg and systemd-boot.
    link: https://uapi-group.org/specifications/specs/boot_loader_specification/
  - name: loader.conf(5)
    description: systemd-boot's C(default) and the EFI variables that override it.
    link: https://www.freedesktop.org/software/systemd/man/latest/loader.conf.html
'''

EXAMPLES = r'''
- name: Gather kernel config facts
  kubenode.netfilter.kernel_config_facts:

- name: Fail when kube-proxy's iptables mode cannot load-balance
  ansible.builtin.assert:
    that:
      - ansible_facts['kernel_config']['found']
      - ansible_facts['kernel_config']['modules']['xt_statistic']['state'] != 'missing'

- name: Inspect a node whose root filesystem is mounted at /host (for example from a privileged pod)
  kubenode.netfilter.kernel_config_facts:
    root: /host

- name: Check every installed kernel before a reboot
  kubenode.netfilter.kernel_config_facts:
    kernels: all

- name: Show which kernel boots next and whether it still has xt_statistic
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts['kernel_config']['next_boot'] }}:
      {{ ansible_facts['kernel_config']['installed'][ansible_facts['kernel_config']['next_boot']]['modules']['xt_statistic']['state'] }}
  when: ansible_facts['kernel_config']['next_boot'] in ansible_facts['kernel_config']['installed']

- name: Read a specific config and report two extra symbols
  kubenode.netfilter.kernel_config_facts:
    config_path: /boot/config-6.1.0-18-amd64
    options:
      - CONFIG_NF_TABLES
      - IP_SET_MAX
'''

RETURN = r'''
ansible_facts:
  description: Facts about the kernel configuration.
  returned: always
  type: dict
  contains:
    kernel_config:
      description: What the kernel was built with, as far as it could be determined.
      returned: always
      type: dict
      contains:
        found:
          description: Whether a usable kernel config was found.
          returned: always
          type: bool
          sample: true
        source:
          description: Path of the config used, or null.
          returned: always
          type: str
          sample: /proc/config.gz
        searched:
          description: Every path tried, in order, with its status (V(used), V(not_found), V(unreadable),
            V(invalid)) and the reason.
          returned: always
          type: list
          elements: dict
          contains:
            path:
              description: The path tried (below O(root)).
              type: str
            status:
              description: V(used), V(not_found), V(unreadable) or V(invalid).
              type: str
            reason:
              description: "Why, for example V(corrupt gzip: compressed stream is truncated)."
              type: str
          sample: [{"path": "/proc/config.gz", "status": "used", "reason": "gzip, 3051 options"}]
        error:
          description: Null, or a summary of why no config was found.
          returned: always
          type: str
          sample: null
        release:
          description: Kernel release looked for (O(kernel_release) or the running kernel's).
          returned: always
          type: str
          sample: 6.1.0-18-amd64
        version:
          description: Kernel version C(X.Y.Z), from the config header when a config was found, else from the
            release; null when neither tells.
          returned: always
          type: str
          sample: 6.1.76
        modules_enabled:
          description: C(CONFIG_MODULES) as a bool; null when unknown (no config).
          returned: always
          type: bool
          sample: true
        options:
          description:
            - Symbol (without C(CONFIG_)) -> V(y), V(m), V(n) (C(# CONFIG_X is not set)), the value of a string or
              number option (as a string, quotes removed), or V(absent) (not in the file).
            - Every catalog symbol, C(MODULES) and O(options); every symbol of the file with O(all_options). Empty
              when no config was found.
          returned: always
          type: dict
          sample: {"NETFILTER_XT_MATCH_STATISTIC": "m", "IP_NF_IPTABLES_LEGACY": "absent"}
        all_options_truncated:
          description: True when O(all_options) left symbols of the file out (more than 20000); false otherwise.
          returned: always
          type: bool
          sample: false
        modules:
          description:
            - Module name -> C(option) (the symbol that builds it), C(state) (V(builtin), V(loaded), V(loadable),
              V(missing), V(unknown)) and C(reason) (the evidence that decided it).
          returned: always
          type: dict
          sample: {"xt_statistic": {"option": "NETFILTER_XT_MATCH_STATISTIC", "state": "loadable",
                   "reason": "CONFIG_NETFILTER_XT_MATCH_STATISTIC=m and modules.dep lists kernel/net/netfilter/xt_statistic.ko.xz"}}
        xtables:
          description:
            - The xtables matches and targets the running kernel has registered, per family, sorted.
            - C(available) is false when none of C(/proc/net/ip_tables_matches), C(_targets) and the C(ip6_) ones
              could be read. Absence of a name proves nothing.
          returned: always
          type: dict
          sample: {"available": true, "ipv4": {"matches": ["comment", "statistic"], "targets": ["MASQUERADE"]},
                   "ipv6": {"matches": [], "targets": []}}
        installed:
          description:
            - Release -> the facts of that installed kernel, in the same shape as the running kernel's (C(found),
              C(source), C(searched), C(error), C(release), C(version), C(modules_enabled), C(options),
              C(all_options_truncated), C(modules)), without C(xtables), decided from that release's files only
              (C(/proc/config.gz) is not searched; module states never V(loaded)); plus the keys below.
            - Newest first, at most 32 releases.
          returned: when O(kernels=all)
          type: dict
          sample: {"6.1.0-20-amd64": {"found": true, "running": false, "bootable": true,
                   "modules": {"xt_statistic": {"option": "NETFILTER_XT_MATCH_STATISTIC", "state": "missing",
                                                "reason": "CONFIG_NETFILTER_XT_MATCH_STATISTIC is not set"}}}}
          contains:
            running:
              description: Whether this is the running kernel's release.
              type: bool
            bootable:
              description:
                - True when a kernel image for the release exists (C(/boot/vmlinuz-<release>) and similar names, or
                  a BLS C(<entry-token>/<release>/linux)) and so does its modules directory (unless the kernel is
                  built without module support).
                - A config left in C(/boot) by a removed kernel package is V(false).
              type: bool
            bootable_reason:
              description: The files that decided RV(ansible_facts.kernel_config.installed.bootable).
              type: str
            image:
              description: Path of the kernel image found (below O(root)), or null.
              type: str
            modules_dir:
              description: The release's modules directory (resolved below O(root)), or null.
              type: str
        next_boot:
          description: The release the node boots next, or null when it cannot be told without writing anything.
          returned: when O(kernels=all)
          type: str
          sample: 6.1.0-20-amd64
        next_boot_source:
          description: What told RV(ansible_facts.kernel_config.next_boot) (V(systemd-boot), V(grub-bls), V(grub),
            V(vmlinuz-symlink)); null when no boot loader configuration was found.
          returned: when O(kernels=all)
          type: str
          sample: grub
        next_boot_reason:
          description: The entry, the setting and the files read, or why the next boot cannot be told.
          returned: when O(kernels=all)
          type: str
          sample: "GRUB default entry 'Debian GNU/Linux' (saved_entry in /boot/grub/grubenv) -> /boot/vmlinuz-6.1.0-20-amd64"
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc
from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as req
from ansible_collections.kubenode.netfilter.plugins.module_utils import _boot as boot

# all_options returns at most this many symbols (catalog symbols and O(options) always come on top); a real config
# has 2,000-12,000, and read_config refuses files with more than kc.MAX_CONFIG_SYMBOLS distinct ones.
ALL_OPTIONS_MAX = 20000


def _option_map(config, extra_options, all_options):
    """(options, all_options_truncated) for one config."""
    if config is None:
        return {}, False
    wanted = set(req.catalog_symbols())
    wanted.add('MODULES')
    wanted.update(kc.normalize_symbol(sym) for sym in (extra_options or []) if sym and sym.strip())
    truncated = False
    if all_options:
        room = ALL_OPTIONS_MAX
        for sym in sorted(config.options):
            if sym in wanted:
                continue
            if room <= 0:
                truncated = True
                break
            wanted.add(sym)
            room -= 1
    return dict((sym, config.state(sym)) for sym in sorted(wanted)), truncated


def _kernel_facts(root, release, config, searched, extra_options, all_options, running):
    """The facts of one kernel: the running one (running=True) or an installed one (never ``loaded``)."""
    version = (config.header_version if config is not None else None) or kc.parse_version(release)
    evidence = kc.gather_evidence(root, release, running=running)
    # the catalog's modules, then the well-known extra ones users load with the kernel_modules role (their states,
    # loaded included, are what the role re-verifies)
    extra_pairs = sorted((symbol, module) for module, symbol in req.EXTRA_MODULE_OPTIONS.items())
    modules = kc.module_states(config, req.module_pairs(version) + extra_pairs, evidence)
    options, truncated = _option_map(config, extra_options, all_options)
    error = None
    if config is None:
        error = 'no kernel config found: tried %d paths (%s)' % (len(searched), '; '.join(
            '%s: %s' % (item.path, item.reason) for item in searched))
    facts = {
        'found': config is not None,
        'source': config.path if config is not None else None,
        'searched': [item.as_dict() for item in searched],
        'error': error,
        'release': release,
        'version': version,
        'modules_enabled': kc.modules_enabled(config),
        'options': options,
        'all_options_truncated': truncated,
        'modules': dict((name, state.as_dict()) for name, state in modules.items()),
    }
    return facts, evidence


def check_inputs(root, config_path=None, kernel_release=None, extra_options=None):
    """None, or why the arguments cannot be used (NUL bytes, a root that is not a directory, a release that is not
    one path component)."""
    for name, value in (('root', root), ('config_path', config_path), ('kernel_release', kernel_release)):
        if value is not None and '\x00' in value:
            return '%s contains a NUL byte: %r' % (name, value)
    for sym in extra_options or []:
        if sym is not None and '\x00' in sym:
            return 'options contains a NUL byte: %r' % sym
    root = root or '/'
    if not os.path.exists(root):
        return 'root %s does not exist' % root
    if not os.path.isdir(root):
        return 'root %s is not a directory' % root
    if kernel_release and not kc.valid_release(kernel_release):
        return ('kernel_release %r is not a kernel release: it must be one path component (no "/", no "..", no '
                'NUL, whitespace or control characters, at most 255 characters)' % kernel_release)
    return None


def gather(root, config_path=None, kernel_release=None, extra_options=None, all_options=False, kernels='running'):
    """Return (facts, error) where error is a message for arguments or an explicit config_path that cannot be used."""
    root = root or '/'
    problem = check_inputs(root, config_path, kernel_release, extra_options)
    if problem:
        return None, problem
    release = kernel_release or kc.read_release(root)
    cache = {}
    if config_path:
        try:
            config = kc.read_config(config_path, root)
        except kc.ConfigError as exc:
            return None, 'kernel config %s: %s (%s)' % (exc.path, exc.reason, exc.status)
        searched = [kc.PathStatus(config.path, kc.USED, '%s, %d options' % (
            'gzip' if config.compressed else 'plain text', len(config.options)))]
    else:
        config, searched = kc.find_config(root, release, cache=cache)

    facts, _evidence = _kernel_facts(root, release, config, searched, extra_options, all_options, running=True)
    facts['xtables'] = kc.read_xtables(root)
    if kernels == 'all':
        facts['installed'] = gather_installed(root, release, extra_options, all_options, cache)
        known = sorted(facts['installed'])
        nb = boot.next_boot(root, known)
        facts['next_boot'] = nb.release
        facts['next_boot_source'] = nb.source
        facts['next_boot_reason'] = nb.reason
    return facts, None


def gather_installed(root, running_release, extra_options=None, all_options=False, cache=None):
    """Release -> facts of every kernel installed below ``root`` (a config in /boot or a modules directory)."""
    installed = {}
    for release in boot.installed_releases(root):
        config, searched = kc.find_config(root, release, running=False, cache=cache)
        facts, evidence = _kernel_facts(root, release, config, searched, extra_options, all_options, running=False)
        ok, reason, image = boot.bootable(root, release, evidence.modules_dir, facts['modules_enabled'])
        facts.update({'running': release == running_release, 'bootable': ok, 'bootable_reason': reason,
                      'image': kc.join_root(root, image) if image else None,
                      'modules_dir': evidence.modules_dir})
        installed[release] = facts
    return installed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_path=dict(type='path'),
            root=dict(type='path', default='/'),
            kernel_release=dict(type='str'),
            options=dict(type='list', elements='str', default=[]),
            all_options=dict(type='bool', default=False),
            kernels=dict(type='str', default='running', choices=['running', 'all']),
        ),
        supports_check_mode=True,
    )
    try:
        facts, error = gather(module.params['root'], module.params['config_path'], module.params['kernel_release'],
                              module.params['options'], module.params['all_options'], module.params['kernels'])
    except (OSError, ValueError) as exc:  # a read this module did not foresee: name it, never a traceback
        module.fail_json(msg='kernel_config_facts could not read below root %s: %s' % (module.params['root'], exc))
    if error:
        module.fail_json(msg=error)
    module.exit_json(changed=False, ansible_facts={'kernel_config': facts})


if __name__ == '__main__':
    main()
