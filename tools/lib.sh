# shellcheck shell=bash
# Common settings for rsio's build and test scripts. Source it, don't run it.
#
# Everything downloaded or built from outside the repository lives in
# $RSIO_CACHE (default ~/.cache/rsio), keyed by version and config hash, so a
# warm machine skips it. Nothing here names a package registry's host: the
# Debian mirror is read from the machine's own apt configuration.

set -euo pipefail

RSIO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RSIO_CACHE="${RSIO_CACHE:-$HOME/.cache/rsio}"
RSIO_FLAVOUR="${RSIO_FLAVOUR:-default}"
export PATH="$HOME/.cargo/bin:$PATH"
# The LLVM toolchain the kernel and bindgen use (Debian's clang-19 packages).
RSIO_LLVM_SUFFIX="-19"
export LIBCLANG_PATH="/usr/lib/llvm${RSIO_LLVM_SUFFIX}/lib"

mkdir -p "$RSIO_CACHE"

log() { printf '\033[1m[rsio]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[rsio] WARNING:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[rsio] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# Reads one KEY=value line from a file of such lines (kernel/pin).
pin_value() {
    sed -n "s/^$2=//p" "$1" | head -n1
}

# The Debian mirror URI this machine's apt uses for its own release, read from
# deb822 .sources files or classic sources.list lines. RSIO_DEBIAN_MIRROR
# overrides it.
debian_mirror() {
    if [[ -n "${RSIO_DEBIAN_MIRROR:-}" ]]; then
        echo "$RSIO_DEBIAN_MIRROR"
        return
    fi
    local codename
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    local uri
    uri="$(
        for f in /etc/apt/sources.list.d/*.sources; do
            [[ -f "$f" ]] || continue
            # Print "URIs|Suites" per deb822 stanza.
            awk 'BEGIN{RS="";FS="\n"} {u="";s="";t="";
                   for(i=1;i<=NF;i++){ if($i ~ /^URIs:/){u=$i} if($i ~ /^Suites:/){s=$i} if($i ~ /^Types:/){t=$i} }
                   sub(/^URIs:[ \t]*/,"",u); sub(/^Suites:[ \t]*/,"",s);
                   if (t ~ /deb([ \t]|$)/) print u "|" s }' "$f"
        done | awk -F'|' -v c="$codename" '{n=split($2,a,/[ \t]+/); for(i=1;i<=n;i++) if(a[i]==c){split($1,u,/[ \t]+/); print u[1]; exit}}'
    )"
    if [[ -z "$uri" ]]; then
        uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk -v c="$codename" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1)==c) { print $i; exit } }')"
    fi
    [[ -n "$uri" ]] || die "cannot find this machine's Debian mirror in its apt sources; set RSIO_DEBIAN_MIRROR"
    echo "${uri%/}"
}

# Short stable hash of files' contents and extra strings.
content_hash() {
    { for a in "$@"; do if [[ -f "$a" ]]; then cat "$a"; else echo "$a"; fi; done; } | sha256sum | cut -c1-12
}

# Runs a command quietly, showing its log's tail if it fails.
quiet() {
    local logf="$1"
    shift
    if ! "$@" >"$logf" 2>&1; then
        tail -n 40 "$logf" >&2
        die "failed: $* (log: $logf)"
    fi
}

# Takes an exclusive lock on a cache entry so concurrent runs don't race.
with_lock() {
    local lock="$1"
    shift
    mkdir -p "$(dirname "$lock")"
    (
        flock 9
        "$@"
    ) 9>"$lock"
}
