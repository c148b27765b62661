# Shared by Scripts/dode, Scripts/test and Scripts/bench: installs the system packages dode needs
# (Debian 12, run as root) and defines the single release build every command shares.
set -euo pipefail
DODE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One build configuration for tests, examples and the tool, so CI compiles once.
DODE_BUILD_FLAGS=(-c release -Xswiftc -enable-testing)
DODE_BIN="$DODE_ROOT/.build/release/dode"
DODE_PACKAGES=(liblua5.4-dev libopenblas-dev libedit-dev zlib1g-dev pkg-config dataset-fashion-mnist)

dode_install_packages() {
    local missing=()
    for p in "${DODE_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # MPI: Open MPI unless an MPI is already installed (MPICH works too: both register the
    # `mpi` pkg-config alternative and an mpirun).
    if ! pkg-config --exists mpi 2>/dev/null || ! command -v mpirun >/dev/null; then
        missing+=(openmpi-bin libopenmpi-dev)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "dode: installing ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
    fi
    command -v swift >/dev/null || { echo "dode: swift is not on PATH (Swift 6 toolchain needed)" >&2; exit 1; }
}

# True when the binary is missing or older than any source, Stdlib module or the manifest.
dode_stale() {
    [ -x "$DODE_BIN" ] || return 0
    [ -n "$(find "$DODE_ROOT/Sources" "$DODE_ROOT/Stdlib" "$DODE_ROOT/Plugins" "$DODE_ROOT/Package.swift" \
                 -newer "$DODE_BIN" -print -quit 2>/dev/null)" ]
}

dode_build() {
    (cd "$DODE_ROOT" && swift build "${DODE_BUILD_FLAGS[@]}" "$@" >&2)
    touch "$DODE_BIN"
}

# The mpirun command line for N ranks on this machine: Open MPI needs --oversubscribe for more
# ranks than cores and --allow-run-as-root as root; MPICH's mpiexec takes neither.
dode_mpirun() {
    local n="$1"; shift
    local flags=()
    if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
        flags+=(--oversubscribe)
        [ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
    fi
    mpirun "${flags[@]}" -n "$n" "$@"
}
