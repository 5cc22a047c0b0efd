# Shared helpers for scripts/demo and scripts/test (sourced, not executed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@";
    else echo "error: need root (or sudo) to run: $*" >&2; return 1; fi
}

apt_updated=0
apt_install() {
    # Installs only what is missing, so a set-up machine costs no network round trip.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing Debian packages: ${missing[*]}"
    if [ $apt_updated -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_venv() {
    # $1: pip extras, e.g. "dev,pcsc" (empty for the runtime only)
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then apt_install python3-venv; fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --upgrade pip
    fi
    local spec="$ROOT"
    [ -n "${1:-}" ] && spec="$ROOT[$1]"
    echo "==> installing dmp-kiosk${1:+ [$1]} into $VENV"
    "$VENV/bin/pip" install -q -e "$spec"
}
