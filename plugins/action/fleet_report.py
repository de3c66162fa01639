# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of kubenode.netfilter.fleet_report (documentation: plugins/modules/fleet_report.py).

Runs on the controller only: reads every play host's preflight results from hostvars once, builds the one report
object (module_utils/_report.py, linear in hosts x checks) and writes the JSON, JUnit XML and HTML files from it.
Nothing runs on a managed node.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

FILES = {'json': 'kubenode-preflight.json', 'junit': 'kubenode-preflight.junit.xml',
         'html': 'kubenode-preflight.html'}
ARGS = ('dest', 'hosts', 'active_hosts', 'title', 'warnings', 'previous', 'checks_var', 'profile_var',
        'collection_version', 'write', 'merge')
STATUS_TEXT = {
    'no_data': 'not checked yet (a later serial batch)',
    'failed': 'the host failed or was unreachable before its checks ran',
}


def collection_version(root=None):
    """The collection's version from its MANIFEST.json (installed) or galaxy.yml (a source checkout), or None."""
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    manifest = root / 'MANIFEST.json'
    try:
        if manifest.is_file():
            value = json.loads(manifest.read_text(encoding='utf-8'))['collection_info']['version']
            return str(value) if value else None
        galaxy = root / 'galaxy.yml'
        if galaxy.is_file():
            import yaml  # a dependency of ansible-core
            value = (yaml.safe_load(galaxy.read_text(encoding='utf-8')) or {}).get('version')
            return str(value) if value else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    except Exception:  # pylint: disable=broad-except  # yaml.YAMLError: a broken galaxy.yml names no version
        return None
    return None


def _write(path, text):
    """Write atomically (a temporary file in the same directory, then rename), mode 0644."""
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    @staticmethod
    def _profile(host_vars, name, profile_var):
        """The host's own profile fact (set by the preflight role), or None."""
        profile = host_vars.get(profile_var)
        if isinstance(profile, Mapping) and profile:
            return dict(profile)
        return None

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        unknown = sorted(set(args) - set(ARGS))
        if unknown:
            raise AnsibleActionFail('fleet_report: unsupported option(s) %s; supported: %s'
                                    % (', '.join(unknown), ', '.join(ARGS)))
        dest = args.get('dest')
        if not isinstance(dest, str) or not dest.strip():
            raise AnsibleActionFail('fleet_report: dest (the report directory on the controller) is required')
        hosts = args.get('hosts', task_vars.get('ansible_play_hosts_all'))
        active = args.get('active_hosts', task_vars.get('ansible_play_hosts'))
        for key, value in (('hosts', hosts), ('active_hosts', active)):
            if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
                raise AnsibleActionFail('fleet_report: %s must be a list of host names, got %r' % (key, value))
        warnings = args.get('warnings', 'skipped')
        if warnings not in _report.WARNING_MODES:
            raise AnsibleActionFail('fleet_report: warnings must be one of %s, got %r'
                                    % (', '.join(_report.WARNING_MODES), warnings))
        title = args.get('title') or 'kubenode.netfilter preflight'
        checks_var = args.get('checks_var') or '__kubenode_preflight_checks'
        profile_var = args.get('profile_var') or '__kubenode_profile'
        write = boolean(args.get('write', True), strict=True)
        version = args.get('collection_version') or collection_version() or 'unknown'

        previous_path = args.get('previous') or ''
        previous = None
        if previous_path:
            path = os.path.expanduser(str(previous_path))
            try:
                with open(path, encoding='utf-8') as handle:
                    previous = _report.load(handle.read(), 'the previous report %s' % path)
            except OSError as exc:
                raise AnsibleActionFail('fleet_report: cannot read the previous report %s: %s' % (path, exc))
            except ValueError as exc:
                raise AnsibleActionFail('fleet_report: %s' % exc)

        merge = args.get('merge')
        if merge:
            data = self._merge(merge)
        else:
            data = self._from_hostvars(task_vars, hosts, active, checks_var, profile_var, version)
        try:
            texts = {'json': _report.to_json(data, previous=previous),
                     'junit': _report.to_junit(data, warnings=warnings),
                     'html': _report.to_html(data, title=str(title), previous=previous)}
        except ValueError as exc:
            raise AnsibleActionFail('fleet_report: %s' % exc)

        files = {}
        if write:
            dest = os.path.expanduser(dest)
            try:
                os.makedirs(dest, mode=0o755, exist_ok=True)
                for kind, filename in FILES.items():
                    path = os.path.join(dest, filename)
                    _write(path, texts[kind])
                    files[kind] = path
            except OSError as exc:
                raise AnsibleActionFail('fleet_report: cannot write the report in %s: %s' % (dest, exc))
        summary = _report.summarize(data)
        del summary['per_host']
        result.update(changed=False, files=files, summary=summary, collection_version=data['collection_version'])
        if merge:
            result['merged'] = data['_merged_from']
        if previous is not None:
            changes = _report.diff(data, previous)
            result['diff'] = {key: changes[key] for key in ('new_errors', 'fixed', 'hosts_new_error', 'hosts_fixed',
                                                            'previous_generated_at')}
        return result

    @staticmethod
    def _merge(patterns):
        """Merge the JSON reports named by ``patterns`` (paths or globs, in this order)."""
        if isinstance(patterns, str) or not isinstance(patterns, list):
            raise AnsibleActionFail('fleet_report: merge must be a list of report files (paths or globs), got %r'
                                    % (patterns,))
        paths = []
        for pattern in patterns:
            found = sorted(glob.glob(os.path.expanduser(str(pattern))))
            if not found:
                raise AnsibleActionFail('fleet_report: merge: no report file matches %s' % pattern)
            paths.extend(p for p in found if p not in paths)
        texts = []
        for path in paths:
            try:
                with open(path, encoding='utf-8') as handle:
                    texts.append(handle.read())
            except OSError as exc:
                raise AnsibleActionFail('fleet_report: merge: cannot read %s: %s' % (path, exc))
        try:
            loaded = [_report.load(text, path) for path, text in zip(paths, texts)]
            data = _report.merge(loaded)
        except ValueError as exc:
            raise AnsibleActionFail('fleet_report: merge: %s' % exc)
        data['_merged_from'] = paths
        return data

    def _from_hostvars(self, task_vars, hosts, active, checks_var, profile_var, version):
        """The report of this run: every host's results from hostvars, read once per host."""
        now = datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        hostvars = task_vars.get('hostvars', {})
        active_set = set(active)
        meta = {}
        for key in ('proxy_mode', 'distribution', 'cni'):
            value = task_vars.get('kubenode_' + key)
            meta[key] = value if isinstance(value, str) else ''
        entries = {}
        for name in hosts:
            # raw_get: the host's variables without templating each one (facts are already data); one call per host.
            host_vars = hostvars.raw_get(name) if hasattr(hostvars, 'raw_get') else hostvars.get(name, {})
            checks = host_vars.get(checks_var)
            if checks is not None:
                entry = {'status': 'ok', 'error': None, 'checks': checks}
            elif name in active_set:
                entry = {'status': 'no_data', 'error': STATUS_TEXT['no_data'], 'checks': []}
            else:
                entry = {'status': 'failed', 'error': STATUS_TEXT['failed'], 'checks': []}
            entry['checked_at'] = now
            entry['profile'] = self._profile(host_vars, name, profile_var)
            if entry['profile'] is None and checks is not None:
                entry['profile'] = self._fallback_profile(hostvars, name, host_vars, meta)
            entries[name] = entry
        report = dict(meta, generated_at=now, collection_version=str(version), hosts=entries)
        try:
            return _report.normalize(report)
        except ValueError as exc:
            raise AnsibleActionFail('fleet_report: bad preflight results: %s' % exc)

    @staticmethod
    def _fallback_profile(hostvars, name, host_vars, meta):
        """Today's variables when the host has no profile fact: the host's own, else the play's (role defaults)."""
        profile = {}
        for key in ('proxy_mode', 'distribution', 'cni'):
            value = (host_vars or {}).get('kubenode_' + key)
            if isinstance(value, str) and ('{{' in value or '{%' in value):
                value = hostvars[name]['kubenode_' + key]  # templated only when it is a template
            if value is not None:
                profile[key] = str(value)
                profile[key + '_source'] = 'variable kubenode_' + key
            elif meta.get(key):
                profile[key] = meta[key]
                profile[key + '_source'] = 'variable kubenode_%s (the play\'s value or role default)' % key
        return profile or None
