# kdc.sh - a throwaway MIT Kerberos KDC for tests. Source it, do not run it.
#
#   . tests/lib/kdc.sh
#   kdc_start DIR [REALM...]     realms default to EXAMPLE.COM; the first one is
#                                default_realm. Creates DIR/krb5.conf, DIR/kdc.conf,
#                                one database per realm, starts `krb5kdc -n` on a
#                                free loopback port, exports KRB5_CONFIG,
#                                KRB5_KDC_PROFILE and KRB5CCNAME=FILE:DIR/ccache.
#                                The caller stops it (kdc_stop) from its EXIT trap.
#   kdc_addprinc PRINC [ARGS...] adds PRINC with a random key (kadmin.local addprinc
#                                ARGS, e.g. -maxlife "30 seconds")
#   kdc_adduser PRINC PASSWORD   adds a password principal
#   kdc_keytab FILE PRINC...     exports the principals' keys to FILE (mode 0600)
#   kdc_kinit PRINC PASSWORD [kinit ARGS...]   fills $KRB5CCNAME
#   kdc_orders_billing DIR       the usual test realm: alice@EXAMPLE.COM (password alice-pw,
#                                her TGT in $KRB5CCNAME) and the services msgsec/orders and
#                                msgsec/billing, keytabs DIR/orders.kt and DIR/billing.kt
#   kdc_stop                     stops the KDC started by kdc_start
#
# Nothing outside DIR is written; the KDC listens on 127.0.0.1 only; the
# master key is random per run.

kdc_free_port() {
  /usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

kdc_start() {
  local dir=${1:?kdc_start DIR [REALM...]}
  shift
  local realms=("${@:-EXAMPLE.COM}")
  mkdir -p "$dir"
  KDC_DIR=$(cd "$dir" && pwd)
  KDC_PORT=$(kdc_free_port)
  local r
  {
    printf '[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n' "${realms[0]}"
    printf ' dns_lookup_realm = false\n rdns = false\n udp_preference_limit = 1\n'
    printf '[realms]\n'
    for r in "${realms[@]}"; do
      printf ' %s = {\n  kdc = 127.0.0.1:%s\n }\n' "$r" "$KDC_PORT"
    done
  } > "$KDC_DIR/krb5.conf"
  {
    printf '[kdcdefaults]\n kdc_listen = 127.0.0.1:%s\n kdc_tcp_listen = 127.0.0.1:%s\n' \
      "$KDC_PORT" "$KDC_PORT"
    printf '[realms]\n'
    for r in "${realms[@]}"; do
      printf ' %s = {\n  database_name = %s/principal-%s\n' "$r" "$KDC_DIR" "$r"
      printf '  key_stash_file = %s/stash-%s\n  acl_file = %s/kadm5.acl\n' "$KDC_DIR" "$r" "$KDC_DIR"
      printf '  max_life = 10h\n  supported_enctypes = aes256-cts-hmac-sha1-96:normal\n }\n'
    done
    printf '[logging]\n kdc = FILE:%s/kdc.log\n' "$KDC_DIR"
  } > "$KDC_DIR/kdc.conf"
  : > "$KDC_DIR/kadm5.acl"
  export KRB5_CONFIG=$KDC_DIR/krb5.conf KRB5_KDC_PROFILE=$KDC_DIR/kdc.conf
  export KRB5CCNAME=FILE:$KDC_DIR/ccache
  for r in "${realms[@]}"; do
    kdb5_util -r "$r" create -s -W -P "$(head -c 24 /dev/urandom | base64)" \
      > "$KDC_DIR/kdb5_util.log" 2>&1 || { cat "$KDC_DIR/kdb5_util.log" >&2; return 1; }
  done
  local rflags=() i
  for r in "${realms[@]}"; do rflags+=(-r "$r"); done
  krb5kdc -n "${rflags[@]}" -P "$KDC_DIR/kdc.pid" > "$KDC_DIR/krb5kdc.out" 2>&1 &
  KDC_PID=$!
  for i in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$KDC_PORT") 2>/dev/null; then
      return 0
    fi
    kill -0 "$KDC_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "kdc.sh: krb5kdc did not start (see $KDC_DIR/krb5kdc.out, kdc.log)" >&2
  cat "$KDC_DIR/krb5kdc.out" >&2
  return 1
}

# principal "name@REALM" -> -r REALM for kadmin.local
kdc_realm_flag() {
  case $1 in *@*) printf '%s\n' "-r" "${1##*@}" ;; esac
}

kdc_admin() { # PRINC QUERY
  local flags
  mapfile -t flags < <(kdc_realm_flag "$1")
  kadmin.local "${flags[@]}" -q "$2" > "$KDC_DIR/kadmin.log" 2>&1 &&
    ! grep -qiE 'error|failed|not found|unknown' "$KDC_DIR/kadmin.log" ||
    { echo "kdc.sh: kadmin.local -q '$2' failed:" >&2; cat "$KDC_DIR/kadmin.log" >&2; return 1; }
}

kdc_addprinc() {
  local p=${1:?kdc_addprinc PRINC [ARGS...]}
  shift
  kdc_admin "$p" "addprinc -randkey $* $p"
}

kdc_adduser() {
  kdc_admin "$1" "addprinc -pw $2 $1"
}

kdc_keytab() {
  local kt=${1:?kdc_keytab FILE PRINC...} p
  shift
  for p in "$@"; do
    kdc_admin "$p" "ktadd -norandkey -k $kt $p"
  done
  chmod 600 "$kt"
}

kdc_kinit() {
  local p=$1 pw=$2
  shift 2
  printf '%s\n' "$pw" | kinit "$@" "$p" > "$KDC_DIR/kinit.log" 2>&1 ||
    { echo "kdc.sh: kinit $p failed:" >&2; cat "$KDC_DIR/kinit.log" >&2; return 1; }
}

kdc_orders_billing() {
  local dir=${1:?kdc_orders_billing DIR}
  kdc_adduser alice@EXAMPLE.COM alice-pw &&
    kdc_addprinc msgsec/orders@EXAMPLE.COM && kdc_addprinc msgsec/billing@EXAMPLE.COM &&
    kdc_keytab "$dir/orders.kt" msgsec/orders@EXAMPLE.COM &&
    kdc_keytab "$dir/billing.kt" msgsec/billing@EXAMPLE.COM &&
    kdc_kinit alice@EXAMPLE.COM alice-pw
}

kdc_stop() {
  if [ -n "${KDC_PID:-}" ]; then
    kill "$KDC_PID" 2>/dev/null
    wait "$KDC_PID" 2>/dev/null
    KDC_PID=
  fi
  return 0
}
