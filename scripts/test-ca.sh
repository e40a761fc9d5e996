#!/usr/bin/env bash
# Makes a throw-away CA and certificates for wapr's mutual TLS, with the
# openssl command-line tool:
#
#   scripts/test-ca.sh DIR [NAME...]
#
# DIR/ca.pem, ca-key.pem          the CA (EC P-256, 30 days)
# DIR/node.pem, node-key.pem      a certificate the CA signed, for every
#                                 process of the cluster (server and client
#                                 use), naming localhost, 127.0.0.1, ::1,
#                                 wapr-node and each NAME given (with
#                                 TEST_CA_NAMES_ONLY=1: only the NAMEs, as
#                                 a Kubernetes Secret whose certificate
#                                 cannot name pod IPs)
# DIR/rogue-ca.pem, rogue.pem, rogue-key.pem
#                                 the same names signed by another CA: a
#                                 process that must be refused
#
# For tests and trying TLS on one machine; a real cluster takes its
# certificates from its own CA (cert-manager, Vault, …).
set -euo pipefail
dir=${1:?usage: scripts/test-ca.sh DIR [NAME...]}
shift
mkdir -p "$dir"
cd "$dir"

sans="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:wapr-node"
if [[ ${TEST_CA_NAMES_ONLY:-} == 1 ]]; then
    [[ $# -gt 0 ]] || { echo "test-ca: TEST_CA_NAMES_ONLY=1 needs a NAME" >&2; exit 2; }
    sans=""
fi
for name in "$@"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
        sans="$sans,IP:$name"
    else
        sans="$sans,DNS:$name"
    fi
done
sans=${sans#,}

ca() { # NAME: a self-signed CA in NAME.pem / NAME-key.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1-key.pem" -out "$1.pem" -days 30 -subj "/CN=wapr test $1" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() { # NAME CA: NAME.pem / NAME-key.pem signed by CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=wapr $1" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial \
        -out "$1.pem" -days 30 -extfile <(printf '%s\n' \
            "subjectAltName=$sans" \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth,clientAuth") 2>/dev/null
    rm -f "$1.csr"
}

ca ca
leaf node ca
ca rogue-ca
leaf rogue rogue-ca
rm -f ./*.srl
echo "test-ca: $dir (ca.pem, node.pem, node-key.pem; rogue.pem signed by rogue-ca.pem)"
