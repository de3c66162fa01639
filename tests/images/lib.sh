# Shell functions shared by the image scripts in this directory (sourced, not run). Callers define log().

debian_mirror() {
  # The Debian archive this machine's apt already uses (deb822 sources first, then one-line sources).
  local uri
  uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
  if [ -z "$uri" ]; then
    uri="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; exit } }' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)"
  fi
  [ -n "$uri" ] || { log "no Debian archive found in /etc/apt/sources.list*"; return 1; }
  echo "$uri"
}
