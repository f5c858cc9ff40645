#!/usr/bin/env bash
# The Compose stack's HTTPS certificate, signed by a local CA made once
# (scripts/stack.sh up and scripts/swarm.sh up run this).
#
#   .tls/      (mode 0700, never committed, outside the image's build context:
#              .dockerignore admits only the sources)
#     ca.key   the CA's private key (0600). It never leaves this directory: not
#              in the image, not in a container, not in a secret.
#     ca.pem   the CA's certificate: what clients trust (curl --cacert .tls/ca.pem)
#   .secrets/tls_cert, .secrets/tls_key   the balancer's certificate and key, as
#              Compose secrets (/run/secrets/tls_cert, /run/secrets/tls_key)
#
# The server certificate names localhost, balancer, 127.0.0.1 and ::1, and
# SWITCHYARD_TLS_NAMES (comma-separated DNS names or IPs) if set. It is made
# again when it has less than 30 days left or the names change; the CA is
# kept, so a client that trusts it once keeps trusting the stack. A changed
# certificate reaches a running balancer without a restart (--tls-reload-interval).
# SWITCHYARD_TLS_OWN=1 (environment or .env): the two files are the user's own
# certificate and key, left as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "switchyard: $*" >&2; }
command -v openssl >/dev/null || {
  say "openssl is needed for the stack's HTTPS certificate (Debian: apt-get install -y openssl)"
  exit 1
}

umask 077
mkdir -p .tls .secrets
chmod 700 .tls .secrets

if [[ ! -s .tls/ca.key || ! -s .tls/ca.pem ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 \
    -keyout .tls/ca.key -out .tls/ca.pem -subj "/O=Switchyard/CN=Switchyard local CA ($(hostname))" \
    -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
  chmod 600 .tls/ca.key
  chmod 644 .tls/ca.pem
  say "made a local CA for the stack's HTTPS port: $PWD/.tls/ca.pem (its key stays in $PWD/.tls)"
fi

san='DNS:localhost,DNS:balancer,IP:127.0.0.1,IP:::1'
IFS=',' read -r -a extra <<<"${SWITCHYARD_TLS_NAMES:-}"
for n in "${extra[@]}"; do
  n=${n// /}
  [[ -z $n ]] && continue
  if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+=",IP:$n"; else san+=",DNS:$n"; fi
done

fresh() {
  [[ -s .secrets/tls_cert && -s .secrets/tls_key && -s .tls/names ]] || return 1
  [[ $(cat .tls/names) == "$san" ]] || return 1
  openssl x509 -in .secrets/tls_cert -noout -checkend 2592000 >/dev/null 2>&1 || return 1
  openssl verify -CAfile .tls/ca.pem .secrets/tls_cert >/dev/null 2>&1
}

# SWITCHYARD_TLS_OWN=1 (environment or .env): the files in .secrets/ are the user's own; never replaced.
own=${SWITCHYARD_TLS_OWN:-$(sed -n 's/^SWITCHYARD_TLS_OWN=//p' .env 2>/dev/null | tail -1)}
if [[ $own == 1 ]]; then
  [[ -s .secrets/tls_cert && -s .secrets/tls_key ]] || {
    say "SWITCHYARD_TLS_OWN=1 but .secrets/tls_cert or .secrets/tls_key is missing: put your certificate chain and key there"
    exit 1
  }
elif ! fresh; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/req.csr" -subj '/CN=localhost' 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$san" >"$work/ext"
  # 397 days: the longest a browser accepts for a server certificate.
  openssl x509 -req -in "$work/req.csr" -CA .tls/ca.pem -CAkey .tls/ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -days 397 -sha256 -extfile "$work/ext" -out "$work/cert.pem" 2>/dev/null
  # Written in place, not renamed: a running container's secret is a bind mount of the file's inode, and
  # the balancer reloads what changed (a pair caught half-written is refused until both are whole).
  # Readable by the container's user (node); the 0700 directory keeps other host users out.
  for f in key cert; do
    cat "$work/$f.pem" >".secrets/tls_$f"
    chmod 644 ".secrets/tls_$f"
  done
  printf '%s' "$san" >.tls/names
  say "made the stack's HTTPS certificate for ${san//DNS:/} (valid 397 days)"
fi
