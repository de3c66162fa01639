#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: fleet_report
short_description: Write the preflight fleet report (JSON, JUnit XML, HTML) of every host of the play, on the controller
version_added: 0.1.0
author: kubenode.netfilter contributors (@kubenode)
description:
  - Reads the preflight results of every host of the play once (the fact O(checks_var) the
    C(kubenode.netfilter.preflight) role sets, and the host's profile O(profile_var)), builds one report object in
    Python, in time linear in hosts x checks, and writes three files from it into O(dest) on the controller
    (C(kubenode-preflight.json), C(kubenode-preflight.junit.xml), C(kubenode-preflight.html)).
  - Each distinct result (check id, severity, message, fix, remedy, kernel release) is stored once in the JSON and the
    HTML; per host only references to it. The HTML renders only the rows in view, so thousands of hosts stay usable.
  - Hosts of O(hosts) without results are listed too, never as passed, V(no_data) when still in O(active_hosts) (a
    later C(serial) batch), V(failed) otherwise (failed or unreachable before their checks ran).
  - The collection version in the report comes from the collection's own C(MANIFEST.json) (an installed collection)
    or C(galaxy.yml) (a source checkout).
  - This is an action plugin; it runs on the controller only and never connects to a host. The files are the
    preflight's output, written in check mode too, and the task never reports a change.
  - The JSON schema, the merge of several reports and the diff are described in C(docs/fleet_report.md).
options:
  dest:
    description: Directory on the controller for the three files; created when missing. Existing files are replaced.
    type: path
    required: true
  hosts:
    description: Every host of the report. Defaults to C(ansible_play_hosts_all).
    type: list
    elements: str
  active_hosts:
    description:
      - The hosts still active in the play, to tell V(no_data) from V(failed). Defaults to C(ansible_play_hosts).
    type: list
    elements: str
  title:
    description: Title of the HTML page.
    type: str
    default: kubenode.netfilter preflight
  warnings:
    description: How C(warning) checks appear in the JUnit XML (see P(kubenode.netfilter.fleet_report_junit#filter)).
    type: str
    choices: [skipped, pass, failure]
    default: skipped
  previous:
    description:
      - A previous JSON report (path on the controller). The JSON and HTML then mark new errors and fixed ones per
        host and check (key C(diff) in the JSON). Empty for none.
    type: path
  checks_var:
    description: The host variable that holds the host's checks (a list of C(id), C(severity), C(message), C(fix)).
    type: str
    default: __kubenode_preflight_checks
  profile_var:
    description:
      - The host variable that holds what the host was judged against (kube-proxy mode, distribution, CNI, IPv6,
        each with its source). When it is absent, the host's C(kubenode_proxy_mode), C(kubenode_distribution) and
        C(kubenode_cni) are shown instead.
    type: str
    default: __kubenode_profile
  collection_version:
    description: Override the collection version written into the report (default read from the collection).
    type: str
  write:
    description: Write the files. V(false) only builds the report and returns its summary.
    type: bool
    default: true
  merge:
    description:
      - Instead of this play's hosts, merge these JSON reports (paths or globs on the controller, for example the
        reports of every AWX job slice) and write the three files of the merged report
        (P(kubenode.netfilter.fleet_report_merge#filter) says which result wins per host).
      - O(hosts), O(active_hosts), O(checks_var) and O(profile_var) are not used then.
    type: list
    elements: path
attributes:
  check_mode:
    support: full
    description:
      - The report is written in check mode too; it is output on the controller, not a change to a node, and the
        task never reports a change.
  diff_mode:
    support: none
    description: Nothing on a node changes, so there is nothing to show.
notes:
  - Use it with C(run_once=true); it reads all hosts itself.
seealso:
  - plugin: kubenode.netfilter.fleet_report_merge
    plugin_type: filter
  - plugin: kubenode.netfilter.fleet_report_html
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Write the fleet report of every host of the play
  kubenode.netfilter.fleet_report:
    dest: /srv/reports/preflight
    previous: /srv/reports/preflight-last-week/kubenode-preflight.json
  run_once: true
'''

RETURN = r'''
files:
  description: The files written, by kind (C(json), C(junit), C(html)); empty with O(write=false).
  returned: always
  type: dict
  sample: {"json": "/srv/reports/preflight/kubenode-preflight.json"}
summary:
  description:
    - Counts over the fleet. C(hosts), C(host_status) (hosts per status), C(checks) (checks per severity, a check
      counted once per host), C(distinct_results) (rows of the report's result table).
  returned: always
  type: dict
  sample: {"hosts": 3, "host_status": {"ok": 2, "failed": 1, "unreachable": 0, "no_data": 0},
           "checks": {"error": 1, "warning": 0, "info": 2, "ok": 80}, "distinct_results": 45}
collection_version:
  description: The collection version written into the report.
  returned: always
  type: str
  sample: 0.1.0
merged:
  description: With O(merge), the report files that were merged, in order.
  returned: when O(merge) is set
  type: list
  elements: str
  sample: ["/reports/preflight/101/kubenode-preflight.json", "/reports/preflight/102/kubenode-preflight.json"]
diff:
  description:
    - With O(previous), the counts of the comparison (C(new_errors), C(fixed), C(hosts_new_error), C(hosts_fixed))
      and C(previous_generated_at); the per host details are in the JSON file.
  returned: when O(previous) is set
  type: dict
  sample: {"new_errors": 1, "fixed": 2, "hosts_new_error": 1, "hosts_fixed": 1,
           "previous_generated_at": "2026-03-01T10:00:00Z"}
'''

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            hosts=dict(type='list', elements='str'),
            active_hosts=dict(type='list', elements='str'),
            title=dict(type='str', default='kubenode.netfilter preflight'),
            warnings=dict(type='str', choices=['skipped', 'pass', 'failure'], default='skipped'),
            previous=dict(type='path'),
            checks_var=dict(type='str', default='__kubenode_preflight_checks'),
            profile_var=dict(type='str', default='__kubenode_profile'),
            collection_version=dict(type='str'),
            write=dict(type='bool', default=True),
            merge=dict(type='list', elements='path'),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg='kubenode.netfilter.fleet_report runs on the controller through its action plugin; '
                         'this module file only documents it and is never run on a host')


if __name__ == '__main__':
    main()
