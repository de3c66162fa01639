#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this). Needs root on a Debian 12 machine.
#   stages: bootstrap, compile (managed-node Pythons), pytest (unit + integration), ansible-test sanity,
#           ansible-lint (production profile), molecule scenarios, vm (Debian's modular kernel in qemu: tests/vm and
#           molecule kernel_modules_vm); a timing table at the end.
# Environment: KUBENODE_STAGES="pytest sanity" runs only those stages (bootstrap always runs);
#              extra arguments go to pytest.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
STAGES="${KUBENODE_STAGES:-compile pytest sanity lint artifact molecule vm}"
declare -a NAMES=() RESULTS=() SECONDS_TAKEN=()
overall=0

stage() {  # stage NAME command...
  local name="$1" start rc
  shift
  printf '\n===== %s =====\n' "$name"
  start=$(date +%s.%N)
  "$@"
  rc=$?
  NAMES+=("$name")
  RESULTS+=("$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (rc=$rc)")")
  SECONDS_TAKEN+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')")
  [ "$rc" -eq 0 ] || overall=1
  return 0
}

wanted() { case " $STAGES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

summary() {
  printf '\n===== timing =====\n'
  printf '%-22s %-16s %10s\n' stage result seconds
  local i
  for i in "${!NAMES[@]}"; do
    printf '%-22s %-16s %10s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${SECONDS_TAKEN[$i]}"
  done
}

do_bootstrap() { "$REPO/scripts/bootstrap.sh"; }

do_compile() {
  # Module code runs on managed-node Python 3.8+: compile it with the oldest and newest Pythons this machine has.
  local py found=0 rc=0
  for py in "$HOME/.pyenv/versions"/3.8*/bin/python "$HOME/.pyenv/versions"/3.13*/bin/python; do
    [ -x "$py" ] || continue
    found=1
    echo "$("$py" --version 2>&1): plugins/modules plugins/module_utils"
    "$py" - plugins/modules plugins/module_utils <<'PY' || rc=1
import pathlib, sys
bad = 0
for top in sys.argv[1:]:
    for path in sorted(pathlib.Path(top).rglob("*.py")):
        try:
            compile(path.read_text(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            bad += 1
            print(f"{path}:{exc.lineno}: {exc.msg}")
sys.exit(1 if bad else 0)
PY
  done
  [ "$found" -eq 1 ] || echo "no pyenv Python 3.8 / 3.13 on this machine: compile stage checked nothing" >&2
  return "$rc"
}

do_pytest() {
  local rc
  python -m pytest -p no:cacheprovider "$@"
  rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    return 1
  fi
  return "$rc"
}

do_sanity() {
  # ansible-test resolves the physical path and wants .../ansible_collections/kubenode/netfilter: a real copy.
  # It must lie outside this git checkout: inside it, ansible-test asks git for the files and .build is ignored.
  local top dest
  top="/var/tmp/kubenode-netfilter-ansible-test/$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
  dest="$top/ansible_collections/kubenode/netfilter"
  rm -rf "$top"
  mkdir -p "$dest"
  if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$REPO" ls-files -z --cached --others --exclude-standard \
      | rsync -a --from0 --files-from=- "$REPO/" "$dest/"
  else
    rsync -a --exclude .build --exclude .git "$REPO/" "$dest/"
  fi
  (cd "$dest" && ansible-test sanity --local --python 3.11 --color no)
}

do_lint() { ansible-lint --nocolor; }

# Build the Galaxy tarball, install it into an empty path (dependencies from the `ansible` bundle), ansible-doc every
# plugin and role and syntax-check every playbook by FQCN from outside the checkout; any warning fails.
do_artifact() { python "$REPO/scripts/check_artifact.py"; }

do_molecule() {
  local scenario rc=0 any=0
  "$REPO/tests/images/build.sh" || return 1
  for scenario in molecule/*/molecule.yml; do
    [ -e "$scenario" ] || continue
    any=1
    scenario="$(basename "$(dirname "$scenario")")"
    case "$scenario" in *_vm) continue ;; esac  # the vm stage runs these (they boot the qemu VM)
    echo "--- molecule test -s $scenario"
    molecule test -s "$scenario" || rc=1
  done
  [ "$any" -eq 1 ] || echo "no molecule scenarios yet"
  return "$rc"
}

do_vm() {
  # Debian's own modular kernel in a qemu TCG VM (scripts/vm.sh): tests/vm, then (KUBENODE_VM_MOLECULE=1) molecule
  # kernel_modules_vm. Each boots a fresh VM from the image cached in /var/lib/kubenode-netfilter-test/vm. A machine
  # that cannot build or boot the VM fails this stage with the reason. Budget: KUBENODE_VM_BUDGET seconds (1500) for
  # the whole stage; the molecule scenario (about 8 more minutes under TCG) is for role authors and is off by default
  # to keep CI under 50 minutes.
  local rc=0 budget="${KUBENODE_VM_BUDGET:-1500}" start=$SECONDS left
  "$REPO/scripts/vm.sh" image >/dev/null || return 1
  timeout --kill-after=30 "$budget" python -m pytest -p no:cacheprovider tests/vm
  rc=$?
  left=$((budget - (SECONDS - start)))
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ "$left" -le 0 ]; then
    "$REPO/scripts/vm.sh" down
    echo "vm stage over its budget of ${budget}s (KUBENODE_VM_BUDGET)" >&2
    return 1
  fi
  [ "$rc" -eq 5 ] && { echo "pytest collected no tests in tests/vm: that is a failure here" >&2; rc=1; }
  if [ "${KUBENODE_VM_MOLECULE:-0}" = 1 ]; then
    echo "--- molecule test -s kernel_modules_vm"
    timeout --kill-after=30 "$left" molecule test -s kernel_modules_vm || rc=1
  else
    echo "--- molecule test -s kernel_modules_vm: not run (KUBENODE_VM_MOLECULE=1 runs it)"
  fi
  if [ $((SECONDS - start)) -ge "$budget" ]; then
    echo "vm stage over its budget of ${budget}s (KUBENODE_VM_BUDGET)" >&2
    rc=1
  fi
  "$REPO/scripts/vm.sh" down
  return "$rc"
}

stage bootstrap do_bootstrap
if [ "${RESULTS[0]}" != ok ]; then summary; exit 1; fi
# shellcheck source=/dev/null
. "$REPO/.build/env.sh"
export PATH="$REPO/.build/venv/bin:$PATH"
# Plain logs for CI (molecule and ansible colour their output when they think a terminal is there)
export PY_COLORS=0 NO_COLOR=1 ANSIBLE_FORCE_COLOR=0

wanted compile && stage compile do_compile
wanted pytest && stage pytest do_pytest "$@"
wanted sanity && stage ansible-test-sanity do_sanity
wanted lint && stage ansible-lint do_lint
wanted artifact && stage artifact do_artifact
wanted molecule && stage molecule do_molecule
wanted vm && stage vm do_vm
summary
if [ "$overall" -eq 0 ]; then echo "all stages passed"; else echo "some stages FAILED"; fi
exit "$overall"
