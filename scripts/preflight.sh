#!/usr/bin/env bash
# The main job: preflight of this very machine, in check mode (read-only), printing what it found.
# Extra arguments go to ansible-playbook, e.g.  scripts/preflight.sh -e kubenode_proxy_mode=nftables
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/bootstrap.sh"
# shellcheck source=/dev/null
. "$REPO/.build/env.sh"
cd "$REPO"
exec ansible-playbook -i inventory/local.yml kubenode.netfilter.preflight --check "$@"
