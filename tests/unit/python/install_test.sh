#!/usr/bin/env bash
# cmake --install puts the msgsec Python package where Debian's python3 finds it, and the
# installed package loads the libmsgsec.so.0 of its own install without $MSGSEC_LIBRARY.
#   install_test.sh BUILD_DIR PYTHON       (env: MSGSEC_PKI)
set -euo pipefail
build=${1:?usage: install_test.sh BUILD_DIR PYTHON}
py=${2:?}
t=$(mktemp -d /tmp/msgsec-pyinstall.XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
unset MSGSEC_LIBRARY PYTHONPATH
version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
sites=$("$py" -c 'import site; print(" ".join(site.getsitepackages()))')

echo "-- the Debian prefixes: /usr -> lib/python3/dist-packages, /usr/local -> lib/python$version/dist-packages"
for case in "/usr lib/python3/dist-packages" "/usr/local lib/python$version/dist-packages"; do
    set -- $case
    DESTDIR=$t/stage cmake --install "$build" --prefix "$1" >/dev/null
    [ -f "$t/stage$1/$2/msgsec/__init__.py" ] || fail "prefix $1: no package in $1/$2"
    case " $sites " in *" $1/$2 "*) ;; *) fail "$1/$2 is not on $py's path ($sites)";; esac
    grep -q "LIBRARY = \"$1/lib/libmsgsec.so.0\"" "$t/stage$1/$2/msgsec/_install.py" \
        || fail "prefix $1: _install.py: $(cat "$t/stage$1/$2/msgsec/_install.py")"
    echo "   $1/$2: ok"
done

echo "-- another prefix: lib/python3/dist-packages, found through PYTHONPATH; the library of the install"
cmake --install "$build" --prefix "$t/opt" >/dev/null
cd "$t"   # not the source tree
PYTHONPATH=$t/opt/lib/python3/dist-packages "$py" - "$t/opt" <<'PY' || fail "installed package"
import os, sys
import msgsec, msgsec._ffi
prefix, pki = sys.argv[1], os.environ["MSGSEC_PKI"]
assert msgsec.__file__.startswith(prefix), msgsec.__file__
assert msgsec._ffi.lib._name == prefix + "/lib/libmsgsec.so.0", msgsec._ffi.lib._name
s = msgsec.Sender(pki + "/service.pem", cert=pki + "/client-rsa.pem", key=pki + "/client-rsa.key")
r = msgsec.Receiver(pki + "/service.pem", pki + "/service.key", ca=[pki + "/ca.pem"])
payload, ctx = r.unwrap(s.wrap(b"installed"))
assert payload == b"installed" and ctx.identity == "CN=shop1,O=Example", ctx
print("   %s loads %s: ok" % (msgsec.__file__, msgsec._ffi.lib._name))
PY
echo "-- MSGSEC_LIBRARY wins"
out=$(MSGSEC_LIBRARY=$t/nope.so PYTHONPATH=$t/opt/lib/python3/dist-packages "$py" -c 'import msgsec' 2>&1) \
    && fail "a missing MSGSEC_LIBRARY was ignored"
case $out in *"set MSGSEC_LIBRARY"*nope.so*) ;; *) fail "error: $out";; esac
echo "install_test: ok"
