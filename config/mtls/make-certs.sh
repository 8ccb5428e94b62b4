#!/bin/sh
# One-shot certificate maker for the mTLS example (docker-compose.mtls.yml): a small CA, a
# server certificate for Gatehouse and a client certificate for one service. Keys never leave
# the volume it writes to ($1, default /certs). Existing files are kept, so a restart of the
# stack does not rotate them; delete the volume to start over. Demo only: in production the
# server certificate comes from your CA or cert-manager, and each service gets its own.
set -eu
out="${1:-/certs}"
server_names="${SERVER_NAMES:-DNS:gatehouse,DNS:localhost,IP:127.0.0.1}"
client_dns="${CLIENT_DNS:-billing-service.internal}"
mkdir -p "$out"
cd "$out"
if [ -f ca.crt ] && [ -f server.crt ] && [ -f client.crt ]; then
  echo "certificates already present in $out"
  exit 0
fi
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

# shellcheck disable=SC2086
openssl req -x509 $ec -keyout ca.key -out ca.crt -days 365 -subj "/O=Gatehouse example/CN=Example services CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

issue() { # name subject extensions
  # shellcheck disable=SC2086
  openssl req -new $ec -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" -days 90 -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}

issue server "/CN=gatehouse" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$server_names"
# The server presents its chain: leaf first, then the CA.
cat server.pem ca.crt > server.crt && rm -f server.pem

issue client "/O=Gatehouse example/CN=billing-service" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:$client_dns"
mv client.pem client.crt

rm -f ca.key   # nothing else will be signed with it
# Gatehouse runs as uid 1000 (node), the curl image as uid 100: each may read only its own key.
chmod 0644 ca.crt server.crt client.crt
chmod 0600 server.key client.key
if [ "$(id -u)" = 0 ]; then chown 1000 server.key && chown 100 client.key; fi
echo "made ca.crt, server.crt/server.key and client.crt/client.key in $out"
