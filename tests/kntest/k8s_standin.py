"""STAND-IN for a Kubernetes API server, for tests only (never shipped in plugins/).

No API server can be installed on the test machines, so the kube_router role is tested against this small HTTP
server on 127.0.0.1 with a bounded lifetime. It is NOT Kubernetes: it serves only what the role's modules
(kubernetes.core.k8s_info / k8s_json_patch through the kubernetes Python client's dynamic discovery) ask for:

- discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/apps/v1`` -- the shape of the documents a
  Kubernetes v1.31 API server returns (APIVersions, APIResourceList, APIGroupList), limited to the resources used;
- ``apps/v1`` DaemonSets: GET one, list (all or per namespace, ``labelSelector`` with ``k=v`` terms, ``fieldSelector``
  ``metadata.name=``), PATCH with ``application/json-patch+json`` (RFC 6902 through the ``jsonpatch`` library, ``test``
  operations included: a failed test is HTTP 422 and nothing is stored, as the API server does), ``dryRun=All``
  honoured (the result is returned, nothing stored). A spec change bumps ``metadata.generation``; every stored
  change bumps ``metadata.resourceVersion``; ``status`` reports all pods ready unless ``never_ready`` is set.

Also here: loading the real kube-router manifests (tests/fixtures/kube-router, ../shared/fixtures/kube-router) and a
small renderer for the Go text/template constructs those templates use.
"""
from __future__ import annotations

import copy
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import jsonpatch
import yaml

import kntest

LOCAL_FIXTURES = kntest.FIXTURES / "kube-router"
SHARED = kntest.SHARED_FIXTURES / "kube-router"

# ---------------------------------------------------------------------------------------------------------------------
# Manifests


def go_quote(value: str) -> str:
    """Go's %q for the plain strings the k0s args are."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append('\\' + ch)
        elif ch == '\n':
            out.append('\\n')
        elif ch == '\t':
            out.append('\\t')
        elif ord(ch) < 0x20:
            out.append('\\x%02x' % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


_ACTION = re.compile(r'\{\{(-?)\s*(.*?)\s*(-?)\}\}', re.S)


def render_go_template(text: str, data: Dict[str, Any], conditions: Optional[Dict[str, bool]] = None) -> str:
    """Render the subset of Go text/template the kube-router templates use: ``{{ .X }}``, ``{{ if .X }}``,
    ``{{ if not .X }}``, ``{{ if gt .X N }}``, ``{{ if <expr> }}`` (looked up in ``conditions``), ``{{ range .X }}``
    with ``{{ . | printf "%q" }}`` / ``{{ . }}``, ``{{ end }}``, and the ``{{-`` / ``-}}`` whitespace trimming."""
    conditions = conditions or {}
    tokens = []  # (kind, value)
    pos = 0
    for match in _ACTION.finditer(text):
        literal = text[pos:match.start()]
        if match.group(1):
            literal = literal.rstrip(' \t\r\n')
        tokens.append(('text', literal))
        tokens.append(('action', match.group(2)))
        pos = match.end()
        if match.group(3):
            while pos < len(text) and text[pos] in ' \t\r\n':
                pos += 1
    tokens.append(('text', text[pos:]))

    def value_of(expr: str, dot: Any) -> Any:
        expr = expr.strip()
        if expr == '.':
            return dot
        if expr.startswith('.'):
            return data[expr[1:]]
        if re.match(r'^-?\d+$', expr):
            return int(expr)
        raise ValueError('unsupported template expression %r' % expr)

    def evaluate(expr: str, dot: Any) -> Any:
        if expr in conditions:
            return conditions[expr]
        if '|' in expr:
            left, right = [part.strip() for part in expr.split('|', 1)]
            if right != 'printf "%q"':
                raise ValueError('unsupported pipeline %r' % expr)
            return go_quote(str(value_of(left, dot)))
        words = expr.split()
        if words[0] == 'not':
            return not evaluate(' '.join(words[1:]), dot)
        if words[0] == 'gt':
            return value_of(words[1], dot) > value_of(words[2], dot)
        return value_of(expr, dot)

    def fmt(value: Any) -> str:
        if isinstance(value, bool):
            return 'true' if value else 'false'
        return str(value)

    def run(index: int, dot: Any, out: List[str]) -> int:
        while index < len(tokens):
            kind, value = tokens[index]
            if kind == 'text':
                out.append(value)
                index += 1
                continue
            if value == 'end':
                return index
            if value.startswith('if '):
                body = []  # type: List[str]
                end = run(index + 1, dot, body)
                if evaluate(value[3:], dot):
                    out.extend(body)
                index = end + 1
                continue
            if value.startswith('range '):
                items = evaluate(value[6:], dot)
                end = index
                for item in items:
                    body = []
                    end = run(index + 1, item, body)
                    out.extend(body)
                if not items:
                    end = run(index + 1, None, [])
                index = end + 1
                continue
            out.append(fmt(evaluate(value, dot)))
            index += 1
        return index

    out = []  # type: List[str]
    run(0, None, out)
    return ''.join(out)


# k0s defaults at the fixture's commit (e3d71271, v1.36.1): pkg/apis/k0s/v1beta1/kuberouter.go DefaultKubeRouter
# (AutoMTU true, MTU 0, MetricsPort 8080, Hairpin Enabled -> CNI and global hairpin true), network.go DefaultNetwork
# (ServiceCIDR 10.96.0.0/12), images.go (IfNotPresent), pkg/constant/constant.go (images); the args map of
# pkg/component/controller/kuberouter.go Reconcile, rendered sorted by stringmap.ToDashedArgs.
K0S_DEFAULT_ARGS = {
    'run-router': 'true', 'run-firewall': 'true', 'run-service-proxy': 'false', 'bgp-graceful-restart': 'true',
    'enable-ipv4': 'true', 'enable-ipv6': 'false', 'auto-mtu': 'true', 'metrics-port': '8080',
    'hairpin-mode': 'true', 'service-cluster-ip-range': '10.96.0.0/12',
}


def k0s_data(image: str = 'quay.io/k0sproject/kube-router:v2.10.0-iptables1.8.13-k0s.0') -> Dict[str, Any]:
    return {
        'AutoMTU': True, 'MTU': 0, 'MetricsPort': 8080, 'CNIHairpin': True, 'IPMasq': False,
        'CNIImage': image, 'CNIInstallerImage': 'quay.io/k0sproject/cni-node:1.8.0-k0s.0',
        'PullPolicy': 'IfNotPresent',
        'Args': ['--%s=%s' % (key, K0S_DEFAULT_ARGS[key]) for key in sorted(K0S_DEFAULT_ARGS)],
    }


def k0s_manifest_text(image: Optional[str] = None) -> str:
    text = (SHARED / 'k0sproject-k0s__kuberouter.go.tmpl.yaml').read_text()
    return render_go_template(text, k0s_data(image) if image else k0s_data())


def kubespray_manifest_text() -> str:
    import jinja2

    defaults = yaml.safe_load((LOCAL_FIXTURES / 'kubernetes-sigs-kubespray__kube-router-defaults-main.yml').read_text())
    values = dict(defaults)
    # roles/kubespray_defaults at the same commit: kube_router_version 2.1.1, docker_image_repo docker.io,
    # k8s_image_pull_policy IfNotPresent.
    values.update({'kube_router_image_repo': 'docker.io/cloudnativelabs/kube-router',
                   'kube_router_image_tag': 'v2.1.1', 'k8s_image_pull_policy': 'IfNotPresent'})
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters['bool'] = lambda value: bool(value) if not isinstance(value, str) else value.lower() in (
        'true', 'yes', '1', 'on')
    return env.from_string((LOCAL_FIXTURES / 'kubernetes-sigs-kubespray__kube-router.yml.j2').read_text()).render(
        **values)


def typhoon_manifest_text() -> str:
    text = (LOCAL_FIXTURES / 'poseidon-terraform-render-bootstrap__kube-router-daemonset.yaml.tftpl').read_text()
    text = re.sub(r'[ \t]*%\{~ for key in daemonset_tolerations ~\}.*?%\{~ endfor ~\}\n', '', text, flags=re.S)
    # variables.tf at that commit: kube_router = "cloudnativelabs/kube-router:v0.3.2", flannel_cni = quay.io/coreos/flannel-cni:v0.3.0
    return text.replace('${kube_router_image}', 'cloudnativelabs/kube-router:v0.3.2').replace(
        '${flannel_cni_image}', 'quay.io/coreos/flannel-cni:v0.3.0')


def kops_manifest_text() -> str:
    text = (LOCAL_FIXTURES / 'kubernetes-kops__networking.kuberouter-k8s-1.12.yaml.template').read_text()
    return render_go_template(text, {'Networking.ServiceClusterIPRange': '100.64.0.0/13'}, conditions={
        'ContainerdSELinuxEnabled': False, 'WithDefaultBool .Networking.KubeRouter.UseNFTablesForNetpol false': False})


MANIFESTS: Dict[str, Callable[[], str]] = {
    'kubeadm': (SHARED / 'cloudnativelabs-kube-router__kubeadm-kuberouter.yaml').read_text,
    'generic': (SHARED / 'cloudnativelabs-kube-router__generic-kuberouter.yaml').read_text,
    'k0s': k0s_manifest_text,
    'k0s-bad': lambda: k0s_manifest_text('quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0'),
    'kubespray': kubespray_manifest_text,
    'typhoon': typhoon_manifest_text,
    'kops': kops_manifest_text,
}


def daemonsets(text: str) -> List[Dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc.get('kind') == 'DaemonSet']


def daemonset(name: str) -> Dict[str, Any]:
    found = daemonsets(MANIFESTS[name]())
    if len(found) != 1:
        raise AssertionError('%s: expected one DaemonSet, found %d' % (name, len(found)))
    return found[0]


# ---------------------------------------------------------------------------------------------------------------------
# The HTTP stand-in

VERSION = {'major': '1', 'minor': '31', 'gitVersion': 'v1.31.2', 'gitCommit': '0000000000000000000000000000000000000000',
           'gitTreeState': 'clean', 'buildDate': '2024-10-22T00:00:00Z', 'goVersion': 'go1.22.8',
           'compiler': 'gc', 'platform': 'linux/amd64'}
API_VERSIONS = {'kind': 'APIVersions', 'versions': ['v1'],
                'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '127.0.0.1:6443'}]}
CORE_V1 = {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': [
    {'name': 'namespaces', 'singularName': 'namespace', 'namespaced': False, 'kind': 'Namespace',
     'verbs': ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], 'shortNames': ['ns']},
    {'name': 'nodes', 'singularName': 'node', 'namespaced': False, 'kind': 'Node',
     'verbs': ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
     'shortNames': ['no']},
    {'name': 'pods', 'singularName': 'pod', 'namespaced': True, 'kind': 'Pod',
     'verbs': ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
     'shortNames': ['po'], 'categories': ['all']},
]}
APIS = {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': [
    {'name': 'apps', 'versions': [{'groupVersion': 'apps/v1', 'version': 'v1'}],
     'preferredVersion': {'groupVersion': 'apps/v1', 'version': 'v1'}},
]}
APPS_V1 = {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': 'apps/v1', 'resources': [
    {'name': 'daemonsets', 'singularName': 'daemonset', 'namespaced': True, 'kind': 'DaemonSet',
     'verbs': ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
     'shortNames': ['ds'], 'categories': ['all'], 'storageVersionHash': 'dd7pWHUlMKQ='},
    {'name': 'daemonsets/status', 'singularName': '', 'namespaced': True, 'kind': 'DaemonSet',
     'verbs': ['get', 'patch', 'update']},
]}
DISCOVERY = {'/version': VERSION, '/api': API_VERSIONS, '/api/v1': CORE_V1, '/apis': APIS, '/apis/apps/v1': APPS_V1}

_DS_PATH = re.compile(r'^/apis/apps/v1(?:/namespaces/([^/]+))?/daemonsets(?:/([^/]+))?$')


class StandIn:
    """The stand-in server. ``objects``: (namespace, name) -> DaemonSet; ``requests``: (method, path, query) log;
    ``before_patch``: called with the stored object (to simulate a concurrent writer) before a PATCH applies."""

    def __init__(self, lifetime: float = 600.0) -> None:
        self.objects = {}  # type: Dict[tuple, Dict[str, Any]]
        self.requests = []  # type: List[tuple]
        self.before_patch = None  # type: Optional[Callable[[Dict[str, Any]], None]]
        self.never_ready = False
        self._version = 1000
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.server.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._deadline = time.monotonic() + lifetime
        self._watchdog = threading.Thread(target=self._expire, daemon=True)

    def __enter__(self) -> 'StandIn':
        self._thread.start()
        self._watchdog.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._deadline = 0
        self.server.shutdown()
        self.server.server_close()

    def _expire(self) -> None:
        while time.monotonic() < self._deadline:
            time.sleep(0.5)
        if self._deadline:  # lifetime over while still running
            self.server.shutdown()

    # -- store ------------------------------------------------------------------------------------------------------
    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def add(self, obj: Dict[str, Any], desired: int = 3) -> Dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault('metadata', {})
        meta.setdefault('namespace', 'kube-system')
        meta['uid'] = '00000000-0000-4000-8000-%012d' % len(self.objects)
        meta['generation'] = 1
        meta['resourceVersion'] = self._next_version()
        meta['creationTimestamp'] = '2026-01-01T00:00:00Z'
        obj['status'] = {'desiredNumberScheduled': desired, 'numberReady': desired, 'currentNumberScheduled': desired,
                         'numberMisscheduled': 0, 'observedGeneration': 1, 'updatedNumberScheduled': desired,
                         'numberAvailable': desired}
        self.objects[(meta['namespace'], meta['name'])] = obj
        return copy.deepcopy(obj)

    def get(self, namespace: str, name: str) -> Dict[str, Any]:
        return copy.deepcopy(self.objects[(namespace, name)])

    def _store(self, key: tuple, new: Dict[str, Any]) -> None:
        old = self.objects[key]
        meta = new.setdefault('metadata', {})
        if new.get('spec') != old.get('spec'):
            meta['generation'] = int(old['metadata'].get('generation', 1)) + 1
        meta['resourceVersion'] = self._next_version()
        status = new.setdefault('status', {})
        status['observedGeneration'] = meta['generation']
        desired = status.get('desiredNumberScheduled', 0)
        status['numberReady'] = 0 if self.never_ready else desired
        status['updatedNumberScheduled'] = status['numberReady']
        self.objects[key] = new

    def patch_counts(self) -> Dict[str, int]:
        patches = [r for r in self.requests if r[0] == 'PATCH']
        return {'all': len(patches), 'dry_run': sum(1 for r in patches if 'dryRun' in r[2])}

    # -- HTTP -------------------------------------------------------------------------------------------------------
    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):  # quiet
                return

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(code, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                                  'message': message, 'reason': reason, 'code': code})

            def _parse(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                standin.requests.append((self.command, url.path, sorted(query)))
                return url.path.rstrip('/') or '/', query

            def do_GET(self):  # noqa: N802
                path, query = self._parse()
                if path in DISCOVERY:
                    return self._send(200, DISCOVERY[path])
                match = _DS_PATH.match(path)
                if not match:
                    return self._status(404, 'NotFound', 'the stand-in serves no %s' % path)
                namespace, name = match.groups()
                with standin._lock:
                    if name:
                        obj = standin.objects.get((namespace, name))
                        if obj is None:
                            return self._status(404, 'NotFound', 'daemonsets.apps "%s" not found' % name)
                        return self._send(200, obj)
                    items = [o for (ns, _n), o in sorted(standin.objects.items()) if namespace in (None, ns)]
                    for selector in query.get('labelSelector', []):
                        for term in filter(None, selector.split(',')):
                            key, _eq, value = term.partition('=')
                            items = [o for o in items if (o['metadata'].get('labels') or {}).get(key) == value]
                    for selector in query.get('fieldSelector', []):
                        key, _eq, value = selector.partition('=')
                        if key == 'metadata.name':
                            items = [o for o in items if o['metadata']['name'] == value]
                    return self._send(200, {'kind': 'DaemonSetList', 'apiVersion': 'apps/v1',
                                            'metadata': {'resourceVersion': str(standin._version)}, 'items': items})

            def do_PATCH(self):  # noqa: N802
                path, query = self._parse()
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                match = _DS_PATH.match(path)
                if not match or not match.group(1) or not match.group(2):
                    return self._status(405, 'MethodNotAllowed', 'PATCH is served for one DaemonSet only')
                ctype = (self.headers.get('Content-Type') or '').split(';')[0].strip()
                if ctype != 'application/json-patch+json':
                    return self._status(415, 'UnsupportedMediaType', 'the stand-in takes only JSON patches, got %s'
                                        % ctype)
                key = (match.group(1), match.group(2))
                with standin._lock:
                    if key not in standin.objects:
                        return self._status(404, 'NotFound', 'daemonsets.apps "%s" not found' % key[1])
                    if standin.before_patch is not None:
                        hook, standin.before_patch = standin.before_patch, None
                        current = copy.deepcopy(standin.objects[key])
                        hook(current)
                        standin._store(key, current)
                    try:
                        ops = json.loads(body)
                        patched = jsonpatch.JsonPatch(ops).apply(copy.deepcopy(standin.objects[key]))
                    except jsonpatch.JsonPatchTestFailed as exc:
                        return self._status(422, 'Invalid', str(exc))
                    except (ValueError, jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                        return self._status(422, 'Invalid', 'the server rejected our request: %s' % exc)
                    if query.get('dryRun') == ['All']:
                        return self._send(200, patched)
                    standin._store(key, patched)
                    return self._send(200, standin.objects[key])

        return Handler

    def kubeconfig(self, path: Path, context: str = 'standin') -> Path:
        path.write_text(yaml.safe_dump({
            'apiVersion': 'v1', 'kind': 'Config', 'current-context': context,
            'clusters': [{'name': 'standin', 'cluster': {'server': self.url}}],
            'users': [{'name': 'standin', 'user': {'token': 'stand-in-token'}}],
            'contexts': [{'name': context, 'context': {'cluster': 'standin', 'user': 'standin'}}],
        }))
        return path
