#!/usr/bin/env bash
# Build PJSIP's pjsua2 Python module with more SIP calls per process than the pjsua2-python
# wheel allows (it is compiled with PJSUA_MAX_CALLS=4), and install it in place of that wheel.
#
#   scripts/build-pjsua2.sh                      # build, then install into $PYTHON (default python3)
#   OUT=/wheels scripts/build-pjsua2.sh          # only build: leave the wheel in /wheels
#   PJSUA_MAX_CALLS=512 PJSIP_VERSION=2.15.1 scripts/build-pjsua2.sh
#
# Needs internet (the pjproject release from GitHub), a C/C++ toolchain, make, SWIG 4 and
# the Python headers: apt-get install build-essential swig curl ca-certificates python3-dev.
# Afterwards GET /healthz shows the new "capacity" (the server also warns at start when the
# build holds fewer calls than SIP_MAX_CALLS). Not checked on this project's CI machines,
# which cannot reach GitHub: run it where the internet is (the Dockerfile does).
set -euo pipefail

PJSIP_VERSION="${PJSIP_VERSION:-2.15.1}"
MAX_CALLS="${PJSUA_MAX_CALLS:-256}"
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "Building pjproject ${PJSIP_VERSION} with PJSUA_MAX_CALLS=${MAX_CALLS} in ${WORK}"
curl -fsSL "https://github.com/pjsip/pjproject/archive/refs/tags/${PJSIP_VERSION}.tar.gz" \
    | tar -xz -C "$WORK"
SRC="$WORK/pjproject-${PJSIP_VERSION}"

# Each call takes a pjsua slot, two conference-bridge ports (its stream and our Python
# port), and two sockets (RTP, RTCP) in the I/O queue; SIP transports and spare on top.
cat > "$SRC/pjlib/include/pj/config_site.h" <<CONFIG
#define PJSUA_MAX_CALLS            ${MAX_CALLS}
#define PJSUA_MAX_ACC              16
#define PJSUA_MAX_CONF_PORTS       (3 * PJSUA_MAX_CALLS + 16)
#define PJ_IOQUEUE_MAX_HANDLES     (4 * PJSUA_MAX_CALLS + 64)
#define PJSIP_MAX_DIALOG_COUNT     (8 * PJSUA_MAX_CALLS)
#define PJMEDIA_HAS_VIDEO          0
CONFIG

cd "$SRC"
# epoll: select() could not wait on more than FD_SETSIZE (1024) sockets.
CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC" ./configure --enable-epoll --disable-video \
    --disable-sound --disable-opencore-amr --disable-sdl --disable-ffmpeg --disable-v4l2
make dep
make -j"$(getconf _NPROCESSORS_ONLN)"

cd pjsip-apps/src/swig/python
"$PYTHON" -m pip install --quiet setuptools wheel
make PYTHON_EXE="$PYTHON"
make wheel PYTHON_EXE="$PYTHON"
WHEEL="$(ls dist/*.whl)"

if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    cp "$WHEEL" "$OUT/"
    echo "Wheel: $OUT/$(basename "$WHEEL")"
    exit 0
fi
# The wheel's own package of the same name must go, or it would shadow this build.
"$PYTHON" -m pip uninstall -y pjsua2-python || true
"$PYTHON" -m pip install --force-reinstall "$WHEEL"
"$PYTHON" - <<'CHECK'
import ctypes
import pjsua2 as pj
calls = ctypes.CDLL(pj._pjsua2.__file__).pjsua_call_get_max_count
config = pj.EpConfig()
config.uaConfig.maxCalls = 1 << 20  # pjsua clamps it to the build's PJSUA_MAX_CALLS
ep = pj.Endpoint(); ep.libCreate(); ep.libInit(config)
print(f"pjsua2 installed: {calls()} SIP calls per process")
ep.libDestroy()
CHECK
