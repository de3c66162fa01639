# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kube-router DaemonSet knowledge: known-bad images, image references, the container, the iptables-wrapper start
script, RFC 6902 patches (guarded by ``test`` operations), k0s facts and k0s's own iptables-mode decision.

Pure: no I/O, no Ansible imports. The kube_router_* filters (plugins/filter/, one per file) and the kube_router role
call this module; the facts about upstream sources are in docs/kube_router.md.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils._plain import plain

NFT = 'nft'
LEGACY = 'legacy'
BACKENDS = (NFT, LEGACY)
FIXES = ('wrapper', 'image')

ANNOTATION = 'kubenode.netfilter/original-command'
SCRIPT_MARKER = '# kubenode.netfilter kube-router iptables-wrapper start v1'
CONTAINER_NAME = 'kube-router'
# The ENTRYPOINT of the upstream and k0s kube-router images (cloudnativelabs/kube-router Dockerfile).
DEFAULT_PROGRAM = '/usr/local/bin/kube-router'
SHELL = '/bin/sh'
CONTAINERS_PATH = '/spec/template/spec/containers'

SRC_K0S_5328 = 'https://github.com/k0sproject/k0s/issues/5328'
SRC_K0S_5348 = 'https://github.com/k0sproject/k0s/pull/5348 (backport #5351 to release-1.31)'
SRC_K0S_CONSTANT = 'k0sproject/k0s pkg/constant/constant.go KubeRouterCNIImageVersion (tags v1.31.1+k0s.0 .. v1.31.3+k0s.0)'
SRC_K0S_STACK = 'k0sproject/k0s pkg/applier/stack.go (Apply, patchResource; v1.31 to v1.36)'
SRC_K0S_IPTABLES = ('k0sproject/k0s pkg/component/iptables/iptables.go (v1.32+; internal/pkg/iptablesutils/iptables.go '
                    'before) DetectHostIPTablesMode, extractIPTablesBinaries, kernelMajorVersion')
SRC_K0S_PATCHES = 'k0sproject/k0s docs/configuration.md "Component patches" (v1.36.1+k0s.0)'

# k0s release that first ships the fixed image, and the first release with spec.network.kuberouter.patches.
K0S_FIXED_IN = 'v1.31.3+k0s.0'
K0S_PATCHES_SINCE = 'v1.36.1+k0s.0'


class KubeRouterError(ValueError):
    """Bad input (no such container, not a DaemonSet, bad annotation, ...): the message says which and why."""


# ---------------------------------------------------------------------------------------------------------------------
# Known images

@dataclass(frozen=True)
class KnownImage:
    repository: str            # normalised: registry/path
    tag: str
    backend: str               # the iptables backend the image uses whatever the host has
    fixed_tag: str             # same repository, tag that fixes it
    shipped_by: str
    reason: str
    sources: Tuple[str, ...]


KNOWN_IMAGES: Tuple[KnownImage, ...] = (
    KnownImage(
        repository='quay.io/k0sproject/kube-router', tag='v2.2.1-iptables1.8.9-0', backend=LEGACY,
        fixed_tag='v2.2.1-iptables1.8.9-1',
        shipped_by='k0s v1.31.1+k0s.0, v1.31.1+k0s.1 and v1.31.2+k0s.0 (v1.31.3+k0s.0 and later v1.31 ship -1)',
        reason='the image carries /iptables-wrapper-installer.sh and /iptables-wrapper but never ran the installer: '
               '/sbin/iptables -> xtables-legacy-multi, so kube-router always uses iptables-legacy',
        sources=(SRC_K0S_5328, SRC_K0S_5348, SRC_K0S_CONSTANT)),
)


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str            # path below the registry, e.g. k0sproject/kube-router
    tag: Optional[str]
    digest: Optional[str]

    @property
    def name(self) -> str:
        return '%s/%s' % (self.registry, self.repository)

    def with_tag(self, tag: str) -> str:
        return '%s:%s' % (self.name, tag)


_DIGEST_RE = re.compile(r'^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$')
_TAG_RE = re.compile(r'^[\w][\w.-]{0,127}$')
_PATH_RE = re.compile(r'^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$')


def parse_image(reference: str) -> ImageRef:
    """An image reference as a container runtime reads it (docker.io and library/ are implied)."""
    if not isinstance(reference, str) or not reference.strip():
        raise KubeRouterError('image reference must be a non-empty string, got %r' % (reference,))
    ref = reference.strip()
    digest = None
    if '@' in ref:
        ref, digest = ref.split('@', 1)
        if not _DIGEST_RE.match(digest):
            raise KubeRouterError('image %r: bad digest %r' % (reference, digest))
    tag = None
    slash = ref.rfind('/')
    colon = ref.rfind(':')
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
        if not _TAG_RE.match(tag):
            raise KubeRouterError('image %r: bad tag %r' % (reference, tag))
    parts = ref.split('/')
    if len(parts) > 1 and ('.' in parts[0] or ':' in parts[0] or parts[0] == 'localhost'):
        registry, path = parts[0], '/'.join(parts[1:])
    else:
        registry, path = 'docker.io', ref
    if registry in ('index.docker.io', 'registry-1.docker.io'):
        registry = 'docker.io'
    if registry == 'docker.io' and '/' not in path:
        path = 'library/' + path
    if not _PATH_RE.match(path):
        raise KubeRouterError('image %r: bad repository %r' % (reference, path))
    return ImageRef(registry=registry.lower(), repository=path, tag=tag, digest=digest)


def known_image(reference: str) -> Optional[KnownImage]:
    """The catalog entry for this image (by repository and tag; a digest-only reference is never matched)."""
    ref = parse_image(reference)
    for entry in KNOWN_IMAGES:
        if ref.name == entry.repository and ref.tag == entry.tag:
            return entry
    return None


def default_fixed_image(reference: str) -> Optional[str]:
    entry = known_image(reference)
    if entry is None:
        return None
    return '%s:%s' % (entry.repository, entry.fixed_tag)


# ---------------------------------------------------------------------------------------------------------------------
# DaemonSet and container

def _type_name(value: Any) -> str:
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if value is None:
        return 'null'
    return type(value).__name__


def _want(where: str, value: Any, kinds: Tuple[type, ...], what: str, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise KubeRouterError('%s must be %s, got %s: %s' % (where, what, _type_name(value),
                                                             json.dumps(value, default=repr)[:120]))


def _want_str_list(where: str, value: Any) -> None:
    """A container command/args: a list of strings (a string is not split into its characters)."""
    if value is None:
        return
    if isinstance(value, str):
        raise KubeRouterError('%s must be a list of strings, got a string (%r): write it as a YAML list, one word '
                              'per item' % (where, value[:120]))
    _want(where, value, (list, tuple), 'a list of strings', optional=False)
    for index, word in enumerate(value):
        if not isinstance(word, str):
            raise KubeRouterError('%s[%d] must be a string, got %s' % (where, index, _type_name(word)))


def validate_daemonset(obj: Any) -> None:
    """Check, once at the door, every part of a DaemonSet this module reads; KubeRouterError names the first key
    with the wrong type (never a TypeError or AttributeError later on)."""
    if not isinstance(obj, Mapping):
        raise KubeRouterError('the input must be a DaemonSet object (a dict), got %s' % _type_name(obj))
    _want('kind', obj.get('kind'), (str,), 'a string')
    if obj.get('kind') not in (None, 'DaemonSet'):
        raise KubeRouterError('the input is a %s, not a DaemonSet' % obj.get('kind'))
    meta = obj.get('metadata')
    _want('metadata', meta, (Mapping,), 'a mapping')
    meta = meta or {}
    for key in ('name', 'namespace'):
        _want('metadata.%s' % key, meta.get(key), (str,), 'a string')
    _want('metadata.generation', meta.get('generation'), (int,), 'an integer')
    annotations = meta.get('annotations')
    _want('metadata.annotations', annotations, (Mapping,), 'a mapping of strings')
    for key, value in (annotations or {}).items():
        _want('metadata.annotations[%r]' % (key,), value, (str,), 'a string', optional=False)
    node = obj
    for key, where in (('spec', 'spec'), ('template', 'spec.template'), ('spec', 'spec.template.spec')):
        node = node.get(key)
        if not isinstance(node, Mapping):
            raise KubeRouterError('DaemonSet %s: %s must be a mapping, got %s (no spec.template.spec.containers)'
                                  % (describe(obj), where, _type_name(node)))
    containers = node.get('containers')
    if not isinstance(containers, (list, tuple)):
        raise KubeRouterError('DaemonSet %s: spec.template.spec.containers must be a list of objects, got %s'
                              % (describe(obj), _type_name(containers)))
    for index, container in enumerate(containers):
        base = 'spec.template.spec.containers[%d]' % index
        if not isinstance(container, Mapping):
            raise KubeRouterError('DaemonSet %s: %s must be an object, got %s'
                                  % (describe(obj), base, _type_name(container)))
        try:
            _want(base + '.name', container.get('name'), (str,), 'a string')
            _want(base + '.image', container.get('image'), (str,), 'a string')
            _want_str_list(base + '.command', container.get('command'))
            _want_str_list(base + '.args', container.get('args'))
        except KubeRouterError as exc:
            raise KubeRouterError('DaemonSet %s: %s' % (describe(obj), exc))


def check_daemonset(obj: Any) -> Dict[str, Any]:
    validate_daemonset(obj)
    return dict(obj)


def validate_node_modes(name: str, value: Any) -> None:
    """node -> mode mappings (node_modes, k0s_modes): string keys, string or null values."""
    if not isinstance(value, Mapping):
        raise KubeRouterError('%s must be a mapping node -> mode, got %s' % (name, _type_name(value)))
    for node, mode in value.items():
        _want('%s[%r]' % (name, node), node, (str,), 'a node name (string)', optional=False)
        _want('%s[%r]' % (name, node), mode, (str,), 'a mode (nft, legacy) or null')


def validate_netfilter(netfilter: Any) -> None:
    """The parts of ansible_facts.netfilter k0s_iptables_mode reads, checked once; KubeRouterError names the key."""
    if not isinstance(netfilter, Mapping):
        raise KubeRouterError('netfilter facts must be a mapping (ansible_facts.netfilter), got %s'
                              % _type_name(netfilter))
    chains = netfilter.get('kube_chains')
    _want('kube_chains', chains, (Mapping,), 'a mapping chain -> backends')
    for name, backends in (chains or {}).items():
        _want('kube_chains[%r]' % (name,), backends, (list, tuple), 'a list of backends')
        for index, backend in enumerate(backends or ()):
            _want('kube_chains[%r][%d]' % (name, index), backend, (str,), 'a backend name', optional=False)
    backends = netfilter.get('backends')
    _want('backends', backends, (Mapping,), 'a mapping')
    for backend in BACKENDS:
        entry = (backends or {}).get(backend)
        where = 'backends.%s' % backend
        _want(where, entry, (Mapping,), 'a mapping')
        for family in ('ipv4', 'ipv6'):
            fam = (entry or {}).get(family)
            _want('%s.%s' % (where, family), fam, (Mapping,), 'a mapping')
            tables = (fam or {}).get('tables')
            _want('%s.%s.tables' % (where, family), tables, (Mapping,), 'a mapping table -> counts')
            for table, counts in (tables or {}).items():
                twhere = '%s.%s.tables[%r]' % (where, family, table)
                _want(twhere, counts, (Mapping,), 'a mapping', optional=False)
                for key in ('chains', 'rules'):
                    _want('%s.%s' % (twhere, key), counts.get(key), (int,), 'an integer')
    ipt = netfilter.get('iptables')
    _want('iptables', ipt, (Mapping,), 'a mapping')
    for key in ('path', 'backend'):
        _want('iptables.%s' % key, (ipt or {}).get(key), (str,), 'a string')


def describe(obj: Mapping) -> str:
    meta = obj.get('metadata') if isinstance(obj, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    return '%s/%s' % (meta.get('namespace') or '-', meta.get('name') or '?')


def select_container(daemonset: Mapping, name: Optional[str] = None) -> Tuple[int, Dict[str, Any]]:
    """(index, container): the one named ``name``; by default the one named kube-router, else the first whose image
    name (the repository, not the registry or tag) contains kube-router."""
    obj = check_daemonset(daemonset)
    containers = obj['spec']['template']['spec']['containers']
    if name:
        for index, container in enumerate(containers):
            if container.get('name') == name:
                return index, dict(container)
        raise KubeRouterError('DaemonSet %s has no container named %r (containers: %s)' % (
            describe(obj), name, ', '.join(str(c.get('name')) for c in containers)))
    for index, container in enumerate(containers):
        if container.get('name') == CONTAINER_NAME:
            return index, dict(container)
    for index, container in enumerate(containers):
        image = container.get('image')
        try:
            repository = parse_image(image).repository if isinstance(image, str) else ''
        except KubeRouterError:
            repository = ''
        if 'kube-router' in repository:
            return index, dict(container)
    raise KubeRouterError('DaemonSet %s has no container named kube-router nor one whose image is kube-router '
                          '(containers: %s); pass container=' % (
                              describe(obj), ', '.join(str(c.get('name')) for c in containers)))


# ---------------------------------------------------------------------------------------------------------------------
# The start script

def _sh_quote(word: str) -> str:
    if word and re.match(r'^[A-Za-z0-9_./=:@%+-]+$', word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def wrapper_script(program: Optional[str] = DEFAULT_PROGRAM) -> str:
    """The ``sh -c`` script. ``program`` is exec'd with "$@"; None execs "$@" itself (the container's own command
    then follows the script's $0 in the command list).

    No ``$(`` and no ``$$`` anywhere: the kubelet expands ``$(VAR)`` and reduces ``$$`` in command and args.
    """
    lines = [
        SCRIPT_MARKER,
        'kn_log() { echo "kubenode.netfilter: $*" >&2; }',
        'kn_ipt=`command -v iptables 2>/dev/null`',
        'kn_real=',
        'if [ -n "$kn_ipt" ]; then kn_real=`readlink -f "$kn_ipt" 2>/dev/null || echo "$kn_ipt"`; fi',
        'case "$kn_real" in',
        '*/iptables-wrapper)',
        '  kn_log "iptables already resolves to $kn_real: nothing to install" ;;',
        '*)',
        '  if [ -f /iptables-wrapper-installer.sh ]; then',
        '    kn_log "running /iptables-wrapper-installer.sh in /"',
        '    if (cd / && /bin/sh /iptables-wrapper-installer.sh); then',
        '      kn_now=`command -v iptables 2>/dev/null`',
        '      kn_now=`readlink -f "$kn_now" 2>/dev/null || echo "$kn_now"`',
        '      kn_log "iptables-wrapper installed: iptables resolves to $kn_now"',
        '    else',
        '      kn_log "ERROR: /iptables-wrapper-installer.sh failed (exit $?); kube-router starts with the'
        ' image\'s own iptables (${kn_real:-none})"',
        '    fi',
        '  elif [ -f /iptables-wrapper ] && [ -n "$kn_real" ]; then',
        '    kn_dir=`dirname "$kn_real"`',
        '    kn_log "installing /iptables-wrapper in $kn_dir (next to $kn_real)"',
        '    if cp /iptables-wrapper "$kn_dir/iptables-wrapper" && chmod 0755 "$kn_dir/iptables-wrapper"'
        ' && "$kn_dir/iptables-wrapper" install; then',
        '      kn_log "iptables-wrapper installed in $kn_dir"',
        '    else',
        '      kn_log "ERROR: installing /iptables-wrapper in $kn_dir failed (exit $?); kube-router starts with the'
        ' image\'s own iptables ($kn_real)"',
        '    fi',
        '  else',
        '    kn_log "WARNING: no iptables-wrapper in this image (no /iptables-wrapper-installer.sh,'
        ' no /iptables-wrapper, or no iptables on PATH); kube-router starts with the image\'s own iptables'
        ' (${kn_real:-none})"',
        '  fi ;;',
        'esac',
    ]
    if program is None:
        lines.append('exec "$@"')
    else:
        lines.append('exec %s "$@"' % _sh_quote(program))
    return '\n'.join(lines) + '\n'


def wrapper_command(original_command: Optional[Sequence[str]], program: str = DEFAULT_PROGRAM,
                    name: str = CONTAINER_NAME) -> List[str]:
    """The new container ``command``. The DaemonSet ``args`` stay as they are and arrive as "$@" after ``name``
    ($0); a container that had its own ``command`` keeps it as the exec'd program (it follows ``name``)."""
    if original_command:
        return [SHELL, '-c', wrapper_script(None), name] + [str(word) for word in original_command]
    return [SHELL, '-c', wrapper_script(program), name]


def is_wrapper_command(command: Any) -> bool:
    return (isinstance(command, list) and len(command) >= 4 and command[0] == SHELL and command[1] == '-c'
            and isinstance(command[2], str) and command[2].startswith(SCRIPT_MARKER))


# ---------------------------------------------------------------------------------------------------------------------
# JSON patch

def pointer(*parts: Any) -> str:
    return ''.join('/' + str(part).replace('~', '~0').replace('/', '~1') for part in parts)


def annotation_value(daemonset: Mapping) -> Optional[Dict[str, Any]]:
    meta = daemonset.get('metadata') or {}
    raw = (meta.get('annotations') or {}).get(ANNOTATION)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise KubeRouterError('DaemonSet %s: annotation %s is not JSON (%s): %r' % (
            describe(daemonset), ANNOTATION, exc, raw))
    if not isinstance(value, dict) or 'container' not in value:
        raise KubeRouterError('DaemonSet %s: annotation %s is not an object with "container": %r' % (
            describe(daemonset), ANNOTATION, raw))
    return value


def _encode(value: Mapping) -> str:
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def _guards(daemonset: Mapping, index: int, container: Mapping, keys: Sequence[str]) -> List[Dict[str, Any]]:
    base = CONTAINERS_PATH + '/%d' % index
    ops = [{'op': 'test', 'path': base + '/name', 'value': container.get('name')}]
    for key in keys:
        if key in container:
            ops.append({'op': 'test', 'path': base + '/' + key, 'value': copy.deepcopy(container[key])})
    meta = daemonset.get('metadata') or {}
    if 'generation' in meta:
        ops.append({'op': 'test', 'path': '/metadata/generation', 'value': meta['generation']})
    annotations = meta.get('annotations')
    if isinstance(annotations, Mapping) and ANNOTATION in annotations:
        ops.append({'op': 'test', 'path': pointer('metadata', 'annotations', ANNOTATION),
                    'value': annotations[ANNOTATION]})
    return ops


def _set_annotation(daemonset: Mapping, value: Mapping) -> Dict[str, Any]:
    meta = daemonset.get('metadata') or {}
    if not isinstance(meta.get('annotations'), Mapping):
        return {'op': 'add', 'path': '/metadata/annotations', 'value': {ANNOTATION: _encode(value)}}
    return {'op': 'add', 'path': pointer('metadata', 'annotations', ANNOTATION), 'value': _encode(value)}


def build_patch(daemonset: Mapping, fix: str = 'wrapper', image: Optional[str] = None,
                container: Optional[str] = None, revert: bool = False,
                program: str = DEFAULT_PROGRAM) -> List[Dict[str, Any]]:
    """RFC 6902 patch for the DaemonSet: ``test`` operations on every value it changes (and on metadata.generation
    when present), then the changes. Empty when nothing is to do (already fixed; nothing to revert)."""
    obj = check_daemonset(daemonset)
    if revert:
        return _revert_patch(obj, container)
    if fix not in FIXES:
        raise KubeRouterError('fix must be one of %s, got %r' % (', '.join(FIXES), fix))
    index, cont = select_container(obj, container)
    base = CONTAINERS_PATH + '/%d' % index
    recorded = annotation_value(obj)
    if recorded is not None and recorded.get('container') != cont.get('name'):
        raise KubeRouterError('DaemonSet %s: annotation %s records container %r, not %r' % (
            describe(obj), ANNOTATION, recorded.get('container'), cont.get('name')))
    current_command = cont.get('command')
    ours = is_wrapper_command(current_command)
    if fix == 'wrapper':
        if ours and recorded is not None:
            original = recorded.get('command')
        elif ours:
            raise KubeRouterError('DaemonSet %s: container %s runs the kubenode.netfilter wrapper but annotation %s '
                                  'is missing, so the original command is unknown' % (
                                      describe(obj), cont.get('name'), ANNOTATION))
        else:
            original = current_command
        wanted = wrapper_command(original, program=program, name=str(cont.get('name') or CONTAINER_NAME))
        if current_command == wanted:
            return []
        if ours:
            record = dict(recorded)
        else:
            record = {'container': cont.get('name'), 'fix': 'wrapper', 'command': current_command,
                      'args': cont.get('args'), 'image': cont.get('image')}
        ops = _guards(obj, index, cont, ('image', 'command', 'args'))
        ops.append(_set_annotation(obj, record))
        ops.append({'op': 'add', 'path': base + '/command', 'value': wanted})
        return ops
    # fix == image
    current_image = cont.get('image')
    if not image:
        image = default_fixed_image(current_image) if isinstance(current_image, str) else None
        if image is None:
            if recorded is not None and recorded.get('fix') == 'image' and recorded.get('patched_image') == \
                    current_image:
                return []
            raise KubeRouterError('DaemonSet %s: image %r is not a known-bad image with a known fix; give the fixed '
                                  'image (image=..., kubenode_kube_router_fixed_image)' % (describe(obj), current_image))
    parse_image(image)
    if current_image == image:
        return []
    record = {'container': cont.get('name'), 'fix': 'image', 'command': current_command, 'args': cont.get('args'),
              'image': current_image, 'patched_image': image}
    if recorded is not None and recorded.get('fix') == 'image':
        record['image'] = recorded.get('image')
    ops = _guards(obj, index, cont, ('image',))
    ops.append(_set_annotation(obj, record))
    ops.append({'op': 'replace', 'path': base + '/image', 'value': image})
    return ops


def _revert_patch(obj: Mapping, container: Optional[str]) -> List[Dict[str, Any]]:
    recorded = annotation_value(obj)
    if recorded is None:
        return []
    name = container or recorded.get('container')
    index, cont = select_container(obj, name)
    base = CONTAINERS_PATH + '/%d' % index
    ops = _guards(obj, index, cont, ('image', 'command'))
    changes = []  # type: List[Dict[str, Any]]
    if recorded.get('fix', 'wrapper') == 'wrapper':
        if is_wrapper_command(cont.get('command')):  # else someone (k0s) already replaced it: leave it alone
            if recorded.get('command') is None:
                changes.append({'op': 'remove', 'path': base + '/command'})
            else:
                changes.append({'op': 'replace', 'path': base + '/command', 'value': recorded['command']})
    else:
        if cont.get('image') == recorded.get('patched_image') and recorded.get('image'):
            changes.append({'op': 'replace', 'path': base + '/image', 'value': recorded['image']})
    annotations = (obj.get('metadata') or {}).get('annotations') or {}
    if set(annotations) == {ANNOTATION}:
        changes.append({'op': 'remove', 'path': '/metadata/annotations'})
    else:
        changes.append({'op': 'remove', 'path': pointer('metadata', 'annotations', ANNOTATION)})
    return ops + changes


# ---------------------------------------------------------------------------------------------------------------------
# Detection

@dataclass(frozen=True)
class Detected:
    namespace: str
    name: str
    container: str
    image: str
    command: Optional[List[str]]
    args: Optional[List[str]]
    known: Optional[KnownImage]
    wrapper_installed: bool     # our wrapper start script is the command
    fixed_image: Optional[str]


def detect(daemonset: Mapping, container: Optional[str] = None) -> Detected:
    obj = check_daemonset(daemonset)
    index, cont = select_container(obj, container)
    image = str(cont.get('image') or '')
    known = None
    if image:
        try:
            known = known_image(image)
        except KubeRouterError:
            known = None
    meta = obj.get('metadata') or {}
    return Detected(namespace=str(meta.get('namespace') or ''), name=str(meta.get('name') or ''),
                    container=str(cont.get('name') or ''), image=image, command=cont.get('command'),
                    args=cont.get('args'), known=known, wrapper_installed=is_wrapper_command(cont.get('command')),
                    fixed_image=default_fixed_image(image) if known else None)


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    message: str
    fix: str
    nodes: Tuple[str, ...] = ()
    daemonset: str = ''
    sources: Tuple[str, ...] = ()

    def as_dict(self) -> Dict[str, Any]:
        return {'id': self.id, 'severity': self.severity, 'message': self.message, 'fix': self.fix,
                'nodes': list(self.nodes), 'daemonset': self.daemonset, 'sources': list(self.sources)}


def findings(daemonsets: Sequence[Mapping], node_modes: Mapping[str, Optional[str]],
             image_backend: Optional[str] = None, container: Optional[str] = None,
             distribution: str = 'generic', k0s_modes: Optional[Mapping[str, Optional[str]]] = None
             ) -> List[Finding]:
    """Findings for the kube-router DaemonSet(s) against the nodes' detected iptables modes (node -> nft|legacy)."""
    if image_backend not in (None, '') + BACKENDS:
        raise KubeRouterError('image_backend must be one of %s or empty, got %r' % (', '.join(BACKENDS),
                                                                                    image_backend))
    validate_node_modes('node_modes', node_modes)
    if k0s_modes is not None:
        validate_node_modes('k0s_modes', k0s_modes)
    out = []  # type: List[Finding]
    unknown = sorted(str(node) for node, mode in node_modes.items() if mode not in BACKENDS)
    if unknown:
        out.append(Finding('kube_router.node_mode_unknown', 'warning',
                           'the detected iptables mode of %s is unknown, so the kube-router image could not be '
                           'compared with it' % ', '.join(unknown),
                           'gather kubenode.netfilter.netfilter_backend_facts on those nodes in the same play',
                           nodes=tuple(unknown)))
    if not daemonsets:
        out.append(Finding('kube_router.not_found', 'info', 'no kube-router DaemonSet was found', 'nothing to do'))
    for ds in daemonsets:
        det = detect(ds, container)
        where = '%s/%s' % (det.namespace, det.name)
        backend = image_backend or (det.known.backend if det.known else None)
        if det.wrapper_installed:
            out.append(Finding('kube_router.wrapper_installed', 'info',
                               'DaemonSet %s container %s starts kube-router through the kubenode.netfilter '
                               'iptables-wrapper script (image %s): kube-router uses the backend iptables-wrapper '
                               'detects on each node' % (where, det.container, det.image),
                               'nothing to do; kubenode_kube_router_revert: true puts the original command back',
                               daemonset=where))
            continue
        if backend is None:
            out.append(Finding('kube_router.image_ok', 'info',
                               'DaemonSet %s runs %s, which is not a known-bad image: it is taken to pick the node\'s '
                               'backend through iptables-wrapper' % (where, det.image),
                               'set kubenode_kube_router_image_backend when the image is known to force a backend',
                               daemonset=where))
            continue
        other = NFT if backend == LEGACY else LEGACY
        bad = sorted(str(node) for node, mode in node_modes.items() if mode == other)
        why = det.known.reason if (det.known and not image_backend) else (
            'kubenode_kube_router_image_backend says the image uses iptables-%s' % backend)
        if not bad:
            out.append(Finding('kube_router.image_backend_mismatch', 'ok',
                               'DaemonSet %s runs %s (iptables-%s), and no node has detected mode %s' % (
                                   where, det.image, backend, other), 'nothing to do', daemonset=where))
            continue
        fixed = det.fixed_image or '<a fixed image: kubenode_kube_router_fixed_image>'
        out.append(Finding(
            'kube_router.image_backend_mismatch', 'error',
            'DaemonSet %s runs image %s, which uses iptables-%s (%s), but node(s) %s use %s (detected_mode). '
            'Consequence: kube-router programs its rules into the wrong backend next to kubelet\'s and '
            'kube-proxy\'s, and crash-loops where that backend is unusable (k0s issue 5328, Rocky 9.5).' % (
                where, det.image, backend, why, ', '.join(bad), other),
            'either (1) kubenode_kube_router_fix: image with kubenode_kube_router_fixed_image: %s, or (2) '
            'kubenode_kube_router_fix: wrapper (run iptables-wrapper before kube-router, every original arg kept); '
            'both with kubenode_kube_router_remediate: true (role kubenode.netfilter.kube_router)%s' % (
                fixed, '; on k0s make it durable: see the k0s message' if distribution == 'k0s' else ''),
            nodes=tuple(bad), daemonset=where, sources=det.known.sources if det.known else ()))
    if distribution == 'k0s' and k0s_modes:
        for node in sorted(k0s_modes):
            k0s_mode = k0s_modes[node]
            mode = node_modes.get(node)
            if k0s_mode in BACKENDS and mode in BACKENDS and k0s_mode != mode:
                out.append(Finding(
                    'k0s.iptables_mode_mismatch', 'warning',
                    'on %s k0s would link its bundled iptables to iptables-%s, but iptables-wrapper detects %s: '
                    'kubelet then writes KUBE-IPTABLES-HINT into the other backend than the host\'s rules' % (
                        node, k0s_mode, mode),
                    'set the k0s worker flag --iptables-mode=%s, or remove the stale rules of the other backend '
                    '(role kubenode.netfilter.nft_conflicts)' % mode, nodes=(str(node),), sources=(SRC_K0S_IPTABLES,)))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# k0s's own iptables mode decision

@dataclass(frozen=True)
class K0sDecision:
    mode: Optional[str]
    reason: str
    steps: Tuple[str, ...] = field(default_factory=tuple)


def _save_lines(family: Mapping) -> Optional[int]:
    """Lines an ``iptables-save`` of this family prints, estimated from table/chain/rule counts (comment line,
    ``*table``, one line per chain and rule, ``COMMIT``, comment line; one line for an incompatible table)."""
    tables = (family or {}).get('tables') or {}
    total = 0
    for entry in tables.values():
        if entry.get('incompatible'):
            total += 1
            continue
        chains, rules = entry.get('chains'), entry.get('rules')
        if chains is None or rules is None:
            return None
        total += 4 + int(chains) + int(rules)
    return total


def k0s_iptables_mode(netfilter: Mapping, kernel_release: Optional[str] = None) -> K0sDecision:
    """What k0s (DetectHostIPTablesMode + its kernel fallback) decides on a host, from its netfilter facts.

    1. KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY in the nft save output (v4 or v6, all tables) -> nft;
    2. the same in the legacy save output -> legacy;
    3. both saves worked and legacy printed more lines than nft -> legacy;
    4. ``iptables --version`` of the ``iptables`` on PATH: ``nf_tables`` -> nft, else legacy;
    5. when that fails: the kernel's first release digit < 5 -> legacy, else nft.
    """
    validate_netfilter(netfilter)
    if kernel_release is not None and not isinstance(kernel_release, str):
        raise KubeRouterError('kernel_release must be a string, got %s' % _type_name(kernel_release))
    chains = netfilter.get('kube_chains') or {}
    steps = []
    found = set()
    for name in ('KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY'):
        found.update(chains.get(name) or ())
    if NFT in found:
        return K0sDecision(NFT, 'KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY found in the iptables-nft save output')
    steps.append('no kubelet chain in the nft save output')
    if LEGACY in found:
        return K0sDecision(LEGACY, 'KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY found in the iptables-legacy save '
                                   'output (and not in nft)', tuple(steps))
    steps.append('none in the legacy save output')
    backends = netfilter.get('backends') or {}
    legacy = backends.get(LEGACY) or {}
    nft = backends.get(NFT) or {}
    legacy_ok = any((legacy.get(fam) or {}).get('kernel_tables') is not None for fam in ('ipv4', 'ipv6'))
    nft_ok = bool(nft.get('available', True)) or not nft.get('error')
    legacy_lines = sum(n or 0 for n in (_save_lines(legacy.get('ipv4') or {}), _save_lines(legacy.get('ipv6') or {})))
    nft_lines = sum(n or 0 for n in (_save_lines(nft.get('ipv4') or {}), _save_lines(nft.get('ipv6') or {})))
    if legacy_ok and nft_ok:
        if legacy_lines > nft_lines:
            return K0sDecision(LEGACY, 'no kubelet chain; the legacy save output is longer than the nft one (about '
                                       '%d > %d lines)' % (legacy_lines, nft_lines), tuple(steps))
        steps.append('legacy save output not longer than nft (about %d <= %d lines)' % (legacy_lines, nft_lines))
    else:
        steps.append('a save failed (legacy readable: %s, nft readable: %s): line counts not compared'
                     % (legacy_ok, nft_ok))
    ipt = netfilter.get('iptables') or {}
    if ipt.get('path') and not ipt.get('error') and ipt.get('backend') in BACKENDS:
        return K0sDecision(ipt['backend'], '%s --version says %s' % (
            ipt['path'], 'nf_tables' if ipt['backend'] == NFT else 'legacy'), tuple(steps))
    steps.append('iptables --version failed or no iptables on PATH')
    if kernel_release:
        first = kernel_release.strip()[:1]
        if first.isdigit():
            mode = LEGACY if int(first) < 5 else NFT
            return K0sDecision(mode, 'detection failed; kernel %s (k0s reads only its first digit) -> %s' % (
                kernel_release, mode), tuple(steps))
    return K0sDecision(None, 'detection failed and the kernel release is unknown', tuple(steps))


# ---------------------------------------------------------------------------------------------------------------------
# k0s: why a live patch does not last, and the durable fixes

K0S_APPLIER_FACTS = (
    'k0s owns this DaemonSet: its manifest applier (%s) re-applies kube-router.yaml only when the rendered manifest '
    'changes (a k0s upgrade or a ClusterConfig change of kube-router settings or images; never on a timer: a restart '
    'finds the same k0s stack checksum and skips it). It then sends an RFC 7386 merge patch computed from the last '
    'applied manifest to the new one; a merge patch replaces a list as a whole, so when the containers differ the '
    'whole containers list is replaced: this live patch survives restarts but is silently dropped at the next k0s '
    'upgrade or kube-router setting change. Never delete k0s\'s manifest file: k0s then prunes the DaemonSet.'
    % SRC_K0S_STACK)


def k0s_durable_patch(daemonset: Mapping, fix: str = 'wrapper', image: Optional[str] = None,
                      container: Optional[str] = None, program: str = DEFAULT_PROGRAM) -> List[Dict[str, Any]]:
    """The JSON patch for spec.network.kuberouter.patches: the change only (k0s applies it to the manifest it
    renders, which has no live values to test against and no annotation)."""
    if fix not in FIXES:
        raise KubeRouterError('fix must be one of %s, got %r' % (', '.join(FIXES), fix))
    obj = check_daemonset(daemonset)
    recorded = annotation_value(obj)
    index, cont = select_container(obj, container)
    base = CONTAINERS_PATH + '/%d' % index
    if fix == 'image':
        # no known fix for the current image: it is taken as the fixed one (pinned as it runs now)
        target = image or default_fixed_image(str(cont.get('image') or '')) or str(cont.get('image') or '')
        if not target:
            raise KubeRouterError('container %s has no image: give image=' % cont.get('name'))
        return [{'op': 'replace', 'path': base + '/image', 'value': target}]
    original = recorded.get('command') if (recorded and is_wrapper_command(cont.get('command'))) else cont.get('command')
    return [{'op': 'add', 'path': base + '/command',
             'value': wrapper_command(original, program=program, name=str(cont.get('name') or CONTAINER_NAME))}]


def _yaml_block(text: str, indent: int) -> str:
    pad = ' ' * indent
    return '\n'.join((pad + line) if line else '' for line in text.splitlines())


def k0s_advice(daemonset: Mapping, fix: str = 'wrapper', image: Optional[str] = None,
               container: Optional[str] = None) -> Dict[str, Any]:
    """The k0s message: the applier facts, then the durable fixes in order, with the exact ClusterConfig snippets."""
    if fix not in FIXES:
        raise KubeRouterError('fix must be one of %s, got %r' % (', '.join(FIXES), fix))
    obj = check_daemonset(daemonset)
    meta = obj.get('metadata') or {}
    index, cont = select_container(obj, container)
    current = str(cont.get('image') or '')
    target = image or default_fixed_image(current) or (current if fix == 'image' else None)
    try:
        ref = parse_image(target) if target else None
    except KubeRouterError:
        ref = None
    images_yaml = None
    if ref is not None and ref.tag:
        images_yaml = ('spec:\n  images:\n    kuberouter:\n      cni:\n        image: %s\n        version: %s\n'
                       % (ref.name, ref.tag))
    patch = k0s_durable_patch(obj, fix=fix, image=image, container=container)
    content = json.dumps(patch, indent=2)
    patches_yaml = ('spec:\n  network:\n    kuberouter:\n      patches:\n        - target:\n            kind: DaemonSet\n'
                    '            name: %s\n            namespace: %s\n          patch:\n            type: JSON\n'
                    '            content: |\n%s\n') % (
        meta.get('name') or 'kube-router', meta.get('namespace') or 'kube-system', _yaml_block(content, 14))
    steps = ['1. upgrade k0s: %s and later v1.31 releases ship quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-1 '
             '(v1.31.1 to v1.31.2 shipped -0; %s)' % (K0S_FIXED_IN, SRC_K0S_5348)]
    if images_yaml:
        steps.append('2. or pin the image in k0s\'s ClusterConfig (spec.images.kuberouter.cni.image / .version):\n'
                     + images_yaml)
    else:
        steps.append('2. or pin a fixed image in k0s\'s ClusterConfig: spec.images.kuberouter.cni.image and .version')
    steps.append('3. or, from k0s %s, carry this patch in spec.network.kuberouter.patches (%s):\n%s' % (
        K0S_PATCHES_SINCE, SRC_K0S_PATCHES, patches_yaml))
    return {'facts': K0S_APPLIER_FACTS, 'durable_fixes': steps, 'images_yaml': images_yaml,
            'patches_yaml': patches_yaml, 'message': K0S_APPLIER_FACTS + '\nDurable fixes, in order:\n'
            + '\n'.join(steps)}


# ---------------------------------------------------------------------------------------------------------------------
# Rollout

@dataclass(frozen=True)
class Rollout:
    daemonset: str
    desired: int
    ready: int
    updated: int
    generation: Optional[int]
    observed: Optional[int]

    @property
    def done(self) -> bool:
        """kubernetes.core's daemonset_ready (plugins/module_utils/k8s/waiter.py): every desired pod updated and
        ready, the controller has seen the current generation."""
        return (self.updated == self.desired and self.ready == self.desired
                and (self.generation is None or self.observed == self.generation))

    def line(self) -> str:
        text = '%s: %d of %d pods ready, %d updated' % (self.daemonset, self.ready, self.desired, self.updated)
        if self.generation is not None and self.observed != self.generation:
            text += ', generation %s not yet observed (observed %s)' % (self.generation, self.observed)
        return text


def _count(where: str, value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise KubeRouterError('%s must be an integer, got %s' % (where, _type_name(value)))
    return value


def rollout(daemonset: Any) -> Rollout:
    """The rollout numbers of one DaemonSet as read back from the API (status counts, generations)."""
    if not isinstance(daemonset, Mapping):
        raise KubeRouterError('the input must be a DaemonSet object (a dict), got %s' % _type_name(daemonset))
    meta = daemonset.get('metadata')
    _want('metadata', meta, (Mapping,), 'a mapping')
    status = daemonset.get('status')
    _want('status', status, (Mapping,), 'a mapping')
    status = status or {}
    generation = (meta or {}).get('generation')
    _want('metadata.generation', generation, (int,), 'an integer')
    observed = status.get('observedGeneration')
    _want('status.observedGeneration', observed, (int,), 'an integer')
    return Rollout(describe(daemonset), _count('status.desiredNumberScheduled', status.get('desiredNumberScheduled')),
                   _count('status.numberReady', status.get('numberReady')),
                   _count('status.updatedNumberScheduled', status.get('updatedNumberScheduled')),
                   generation, observed)


def rollout_not_ready(daemonsets: Sequence[Any], expected: Sequence[str] = ()) -> List[str]:
    """One line per DaemonSet whose rollout is not done, with the numbers; a DaemonSet in ``expected``
    (namespace/name) that was not read back at all is one too."""
    out = []
    seen = set()
    for ds in daemonsets:
        state = rollout(ds)
        seen.add(state.daemonset)
        if not state.done:
            out.append(state.line())
    for name in expected:
        if name not in seen:
            out.append('%s: not found when reading the rollout back' % name)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Filter input (controller side): plain containers, optional strings, one DaemonSet


def opt_str(name: str, value: Any) -> Optional[str]:
    """An optional string argument: None or '' -> None; anything but a string is an error naming ``name``."""
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        raise KubeRouterError('%s must be a string, got %r' % (name, value))
    return str(value)


def daemonset_input(value: Any) -> Any:
    """One DaemonSet as a filter receives it; a whole k8s_info result is named as the mistake it is."""
    if isinstance(value, Mapping) and 'resources' in value and 'kind' not in value:
        raise KubeRouterError('got a k8s_info result; pass one DaemonSet (result.resources[0])')
    return plain(value)
