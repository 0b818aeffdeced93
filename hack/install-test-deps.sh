#!/usr/bin/env bash
# Installs the Debian packages the test suite runs against for real
# (SAML signing, Kerberos KDC, LDAP, Redis, a SOAP/WS-Security client)
# when they are missing. Safe to re-run: it does nothing when all are present.
# Not root: only reports what is missing and exits 0; the tests that need a
# missing tool skip (or fail under CI=true).
set -euo pipefail

PACKAGES=(
  xmlsec1           # xmlsec1: XML signature/encryption checks
  softhsm2          # SoftHSM2: the PKCS#11 token of the pkcs11 build's tests
  opensaml-tools    # samlsign: signs/verifies SAML messages
  krb5-kdc          # krb5kdc: throw-away KDC for Kerberos tests
  krb5-admin-server # kadmind/kadmin.local: principals and keytabs
  krb5-user         # kinit/klist/kvno: client side
  slapd             # slapd: throw-away LDAP server
  ldap-utils        # ldapadd/ldapsearch: seed and query it
  redis-server      # redis-server: session store tests
  python3-zeep      # SOAP client used as an independent WS-* peer
  python3-xmlsec    # lets zeep sign messages (WS-Security X.509)
  python3-lxml      # libxml2 canonicalisation, the reference for ours
  libwss4j-java     # WS-Security reference implementation (jar)
  libxml-security-java # Apache Santuario: independent XML Encryption peer
  default-jdk-headless # javac/java to run the Java peers
  python3-msal      # MSAL's own mex reader and WS-Trust client (AD FS clients)
  python3-pysaml2   # a SAML metadata consumer (federation metadata)
  chromium          # a real browser for WS-Federation passive sign-in
  chromium-driver   # chromedriver: drives it over W3C WebDriver
)

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
  if ((EUID != 0)); then
    echo "install-test-deps: not root; missing packages: ${missing[*]}"
    echo "install-test-deps: run as root: apt-get install ${missing[*]}"
    exit 0
  fi
  echo "install-test-deps: installing ${missing[*]}"
  # Installing slapd, krb5-kdc, redis-server would start their daemons
  # (with or without systemd, via invoke-rc.d). Tests start their own
  # instances on private ports, so forbid service starts during the install
  # with a policy-rc.d that says "no" (exit 101), unless one already exists.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  # noninteractive: slapd and krb5-config ask debconf questions; take the
  # defaults instead of waiting on a terminal that CI doesn't have.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Check the packages really provide what the tests call.
failed=()
check() {
  local what="$1"
  shift
  "$@" >/dev/null 2>&1 || failed+=("$what")
}
for p in "${PACKAGES[@]}"; do installed "$p" || failed+=("package:$p"); done
check xmlsec1 xmlsec1 --version
check softhsm2 command -v softhsm2-util
check samlsign command -v samlsign
check krb5kdc test -x /usr/sbin/krb5kdc
check kdb5_util command -v kdb5_util
check slapd test -x /usr/sbin/slapd
check ldapsearch command -v ldapsearch
check redis-server redis-server --version
check zeep /usr/bin/python3 -c 'import zeep'
check python3-xmlsec /usr/bin/python3 -c 'import xmlsec'
check python3-lxml /usr/bin/python3 -c 'import lxml'
check wss4j compgen -G '/usr/share/java/wss4j*.jar'
check santuario test -f /usr/share/java/xmlsec.jar
check javac command -v javac
check msal /usr/bin/python3 -c 'import msal.mex, msal.wstrust_request'
check pysaml2 /usr/bin/python3 -c 'import saml2.mdstore'
check chromium chromium --version
check chromedriver chromedriver --version

if ((${#failed[@]})); then
  echo "install-test-deps: ERROR: not working after install: ${failed[*]}" >&2
  exit 1
fi
echo "install-test-deps: ok: xmlsec1 $(xmlsec1 --version | awk '{print $2}'), softhsm2, samlsign, krb5kdc, kdb5_util, slapd, ldap-utils, redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), python3-zeep, python3-xmlsec, wss4j, santuario, javac, msal, pysaml2, $(chromium --version)"
