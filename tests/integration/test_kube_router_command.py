"""Run the generated kube-router command for real: /bin/sh -c SCRIPT NAME ARGS... in a minimal chroot.

The root is made from Debian's busybox-static (/bin/busybox: sh, readlink, dirname, cp, chmod, ln, ...). Stand-ins
play kube-router (/usr/local/bin/kube-router writes its PID and argv), the image's iptables
(/sbin/iptables -> xtables-legacy-multi, as in quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0), the shell
installer (/iptables-wrapper-installer.sh: needs ./iptables-wrapper in its working directory, copies it to /sbin,
repoints the iptables names, deletes itself and ./iptables-wrapper) and the Go wrapper (/iptables-wrapper: `install`
links every iptables name in its OWN directory). The argv is exactly what the kubelet passes: command + args.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import kntest
from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr
from kntest import k8s_standin as standin

BUSYBOX = Path('/bin/busybox')
APPLETS = ['sh', 'readlink', 'dirname', 'basename', 'cp', 'chmod', 'ln', 'rm', 'echo', 'printf', 'cat', 'test', '[',
           'ls', 'mkdir', 'true', 'false']
NAMES = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore']

KUBE_ROUTER = '#!/bin/sh\n# stand-in kube-router\nprintf "%s\\n" "$$" "$#" "$@" > /out/argv\n'
INSTALLER = '''#!/bin/sh
# stand-in iptables-wrapper-installer.sh (the current one: copies ./iptables-wrapper from its working directory)
echo installer-ran >> /out/events
[ -f ./iptables-wrapper ] || { echo "no ./iptables-wrapper in `pwd`" >&2; exit 1; }
cp ./iptables-wrapper /sbin/iptables-wrapper
for n in NAMES; do rm -f /sbin/$n; ln -s /sbin/iptables-wrapper /sbin/$n; done
rm -f "$0" ./iptables-wrapper
'''.replace('NAMES', ' '.join(NAMES))
FAILING_INSTALLER = '#!/bin/sh\necho installer-ran >> /out/events\necho "sanity check failed" >&2\nexit 3\n'
GO_WRAPPER = '''#!/bin/sh
# stand-in Go iptables-wrapper: `install` links the iptables names in the directory of the binary itself
if [ "$1" = install ]; then
  self=`readlink -f "$0"`; dir=`dirname "$self"`
  echo "install-in=$dir" >> /out/events
  for n in NAMES; do rm -f "$dir/$n"; ln -s "$self" "$dir/$n"; done
  exit 0
fi
echo "wrapper called as $0 $*" >> /out/events
'''.replace('NAMES', ' '.join(NAMES))

pytestmark = pytest.mark.root


def make_root(tmp_path: Path, generation: str) -> Path:
    if not kntest.is_root():
        pytest.skip('chroot needs root')
    if not BUSYBOX.exists():
        pytest.fail('/bin/busybox is missing: apt-get install busybox-static (Debian) for the minimal chroot')
    root = tmp_path / 'root'
    for d in ('bin', 'sbin', 'usr/local/bin', 'out', 'tmp', 'dev'):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.mknod(root / 'dev' / 'null', 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # every container has /dev/null
    shutil.copy2(BUSYBOX, root / 'bin' / 'busybox')
    for applet in APPLETS:
        os.symlink('busybox', root / 'bin' / applet)

    def script(path: str, text: str) -> None:
        target = root / path.lstrip('/')
        target.write_text(text)
        target.chmod(0o755)

    script('/usr/local/bin/kube-router', KUBE_ROUTER)
    script('/sbin/xtables-legacy-multi', '#!/bin/sh\necho legacy\n')
    for name in NAMES:
        os.symlink('xtables-legacy-multi', root / 'sbin' / name)
    if generation == 'wrapper-installed':  # upstream images: installed at build time
        script('/sbin/iptables-wrapper', GO_WRAPPER)
        script('/iptables-wrapper-installer.sh', INSTALLER)
        script('/iptables-wrapper', GO_WRAPPER)
        for name in NAMES:
            (root / 'sbin' / name).unlink()
            os.symlink('/sbin/iptables-wrapper', root / 'sbin' / name)
    elif generation in ('installer', 'k0s-v2.2.1-iptables1.8.9-0'):
        script('/iptables-wrapper-installer.sh', INSTALLER)
        script('/iptables-wrapper', GO_WRAPPER)
    elif generation == 'go-binary-only':  # upstream v2.9.0+
        script('/iptables-wrapper', GO_WRAPPER)
    elif generation == 'failing-installer':
        script('/iptables-wrapper-installer.sh', FAILING_INSTALLER)
        script('/iptables-wrapper', GO_WRAPPER)
    elif generation != 'nothing':
        raise AssertionError(generation)
    return root


def run_in_root(root: Path, argv):
    proc = subprocess.Popen(['chroot', str(root)] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={'PATH': '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': '/'}, cwd='/')
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = (root / 'out' / 'argv').read_text().split('\n')[:-1]
    pid, count, args = int(lines[0]), int(lines[1]), lines[2:]
    assert len(args) == count
    events = (root / 'out' / 'events').read_text().splitlines() if (root / 'out' / 'events').exists() else []
    return proc.pid, pid, args, err, events


def iptables_target(root: Path) -> str:
    return os.readlink(root / 'sbin' / 'iptables')


GENERATIONS = ['wrapper-installed', 'installer', 'k0s-v2.2.1-iptables1.8.9-0', 'go-binary-only', 'nothing',
               'failing-installer']


@pytest.mark.parametrize('generation', GENERATIONS)
@pytest.mark.parametrize('manifest', ['k0s-bad', 'kubeadm', 'kops'])
def test_generated_command_execs_kube_router_with_exact_args(tmp_path, generation, manifest):
    ds = standin.daemonset(manifest)
    patched = __import__('jsonpatch').apply_patch(ds, kr.build_patch(ds))
    container = kr.select_container(patched)[1]
    args = container.get('args') or []
    root = make_root(tmp_path, generation)
    shell_pid, kr_pid, got, err, events = run_in_root(root, container['command'] + args)
    assert got == args                       # every arg, none lost into $0, none split or globbed
    assert kr_pid == shell_pid               # exec: kube-router replaced the shell (PID 1 in the pod)
    if generation == 'wrapper-installed':
        assert 'nothing to install' in err and 'installer-ran' not in events
        assert iptables_target(root) == '/sbin/iptables-wrapper'
    elif generation in ('installer', 'k0s-v2.2.1-iptables1.8.9-0'):
        assert events == ['installer-ran'] and 'iptables-wrapper installed' in err
        assert iptables_target(root) == '/sbin/iptables-wrapper'
        assert not (root / 'iptables-wrapper-installer.sh').exists()  # deleted itself, as the real one does
    elif generation == 'go-binary-only':
        assert events == ['install-in=/sbin'] and 'installed in /sbin' in err
        assert iptables_target(root) == str(Path('/sbin/iptables-wrapper'))
        assert not (root / 'iptables').exists()  # nothing littered in /
    elif generation == 'nothing':
        assert 'WARNING: no iptables-wrapper in this image' in err
        assert iptables_target(root) == 'xtables-legacy-multi'
    elif generation == 'failing-installer':
        assert events == ['installer-ran'] and 'sanity check failed' in err
        assert 'ERROR: /iptables-wrapper-installer.sh failed (exit 3)' in err
        assert iptables_target(root) == 'xtables-legacy-multi'


def test_container_with_its_own_command_keeps_its_program(tmp_path):
    ds = standin.daemonset('kubeadm')
    c0 = ds['spec']['template']['spec']['containers'][0]
    c0['command'] = ['/usr/local/bin/kube-router', '--v=3']  # derived: no real manifest sets command
    patched = __import__('jsonpatch').apply_patch(ds, kr.build_patch(ds))
    container = kr.select_container(patched)[1]
    root = make_root(tmp_path, 'installer')
    shell_pid, kr_pid, got, err, events = run_in_root(root, container['command'] + container['args'])
    assert got == ['--v=3'] + c0['args'] and kr_pid == shell_pid and events == ['installer-ran']


def test_field_workaround_loses_the_first_arg(tmp_path):
    """The field workaround of the k0s incident (no name after the script, unquoted $@) drops --auto-mtu=true."""
    ds = standin.daemonset('k0s-bad')
    args = kr.select_container(ds)[1]['args']
    root = make_root(tmp_path, 'nothing')
    naive = ['/bin/sh', '-c', '/iptables-wrapper-installer.sh; /usr/local/bin/kube-router $@']
    proc = subprocess.run(['chroot', str(root)] + naive + args, capture_output=True, text=True, check=False,
                          env={'PATH': '/usr/local/bin:/sbin:/bin'})
    got = (root / 'out' / 'argv').read_text().split('\n')[2:-1]
    assert args[0] == '--auto-mtu=true' and got == args[1:], proc.stderr
