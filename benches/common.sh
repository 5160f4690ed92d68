# The opening every bench script shares; sourced, not run:
#
#   source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
#   bench_args "$@"   # INPUT [CAPSTAN], or the script's header as usage and exit 2
#
# Defines die and log (prefixed with the script's name) and ROOT (the repository); bench_args
# sets INPUT (the first argument), TARGET (CARGO_TARGET_DIR, else target/, absolute) and CAPSTAN
# (the second argument — a path, or a name looked up on PATH — else TARGET/release/capstan,
# absolute).

BENCH_SCRIPT=${BASH_SOURCE[1]}
BENCH_NAME=$(basename -- "$BENCH_SCRIPT")
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 2
}
log() { echo "$BENCH_NAME: $*" >&2; }

bench_args() {
  [[ $# -ge 1 && $# -le 2 && $1 != -h && $1 != --help ]] || {
    sed -n '2,/^set -euo/p' "$BENCH_SCRIPT" | sed '$d; s/^# \{0,1\}//'
    exit 2
  }
  INPUT=$1
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  [[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
  CAPSTAN=${2:-$TARGET/release/capstan}
  [[ $CAPSTAN == */* ]] || CAPSTAN=$(command -v "$CAPSTAN" || echo "$CAPSTAN")
  [[ $CAPSTAN == /* ]] || CAPSTAN=$PWD/$CAPSTAN
}
