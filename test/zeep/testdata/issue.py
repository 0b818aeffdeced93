"""Ask the STS for a token with zeep, as a Python WS-Trust client would.

The client is built from the STS's own WSDL (GET ?wsdl): the port chosen
decides the SOAP version and the WS-Trust version, the RST children are made
from the WSDL's schema (RequestType, KeyType) plus a WS-Policy AppliesTo, and
the credentials are zeep's WS-Security UsernameToken (PasswordText, or
PasswordDigest with --digest), or with --key/--cert zeep's BinarySignature:
an X.509 signature over the Body and a wsu:Timestamp (which zeep signs when
the header has one, and the STS requires on a signed request), with which
zeep also requires and verifies a signature on the response, by the same
certificate.

zeep adds WS-Addressing headers (Action, MessageID, To) by itself when the
WSDL names wsam:Action on the operation, as the STS's WSDL does; adding
zeep.wsa.WsAddressingPlugin as well would send every header twice.

Prints one JSON object on stdout:
  {"assertion": "<saml:Assertion ...>"} when a token was issued, or
  {"fault": {"code": ..., "subcodes": [...], "message": ...}} for a SOAP fault.
"""

import argparse
import datetime
import json
import sys

import requests
import zeep
from lxml import etree
from lxml.builder import ElementMaker
from zeep import xsd
from zeep.exceptions import Fault
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse import utils
from zeep.wsse.compose import Compose
from zeep.wsse.signature import BinarySignature
from zeep.wsse.username import UsernameToken

TRUST = {
    "13": "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
    "2005": "http://schemas.xmlsoap.org/ws/2005/02/trust",
}
# WS-Trust 2005 has no bearer KeyType; WIF and AD FS clients send NoProofKey.
BEARER = {
    "13": TRUST["13"] + "/Bearer",
    "2005": "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
}
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
WSA = "http://www.w3.org/2005/08/addressing"
ASSERTIONS = {
    "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion",
    "{urn:oasis:names:tc:SAML:1.0:assertion}Assertion",
}


class Timestamp:
    """Adds a five-minute wsu:Timestamp to the Security header."""

    def apply(self, envelope, headers):
        now = datetime.datetime.now(datetime.timezone.utc)
        utils.get_security_header(envelope).append(utils.WSU.Timestamp(
            utils.WSU.Created(utils.get_timestamp(now, zulu_timestamp=True)),
            utils.WSU.Expires(utils.get_timestamp(now + datetime.timedelta(minutes=5), zulu_timestamp=True))))
        return envelope, headers

    def verify(self, envelope):
        return envelope


def applies_to(address):
    wsp = ElementMaker(namespace=WSP, nsmap={"wsp": WSP})
    wsa = ElementMaker(namespace=WSA, nsmap={"wsa": WSA})
    return wsp.AppliesTo(wsa.EndpointReference(wsa.Address(address)))


def find_assertion(value):
    """Walks zeep's answer (dicts, lists, raw XML for open content)."""
    if isinstance(value, etree._Element):
        for el in value.iter():
            if el.tag in ASSERTIONS:
                return el
        return None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            found = find_assertion(item)
            if found is not None:
                return found
    return None


def build_client(wsdl, wsse):
    """A zeep client of the STS's WSDL with the given WS-Security."""
    session = requests.Session()
    # The STS under test is local: never send it through a proxy from the environment.
    session.trust_env = False
    return zeep.Client(wsdl, wsse=wsse, transport=Transport(session=session, timeout=30, operation_timeout=30))


def issue_and_print(service, rst):
    """Sends the RST, prints the token or the fault as JSON, returns the exit status."""
    try:
        answer = service.Issue(_value_1=rst)
    except Fault as fault:
        subcodes = [q.text for q in (getattr(fault, "subcodes", None) or [])]
        json.dump({"fault": {"code": fault.code, "subcodes": subcodes, "message": fault.message}}, sys.stdout)
        return 0
    assertion = find_assertion(serialize_object(answer))
    if assertion is None:
        print("no SAML assertion in the answer: %r" % (answer,), file=sys.stderr)
        return 1
    json.dump({"assertion": etree.tostring(assertion, encoding="unicode")}, sys.stdout)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wsdl", required=True, help="the STS URL with ?wsdl")
    parser.add_argument("--port", required=True, help="WSDL port, e.g. Trust13Soap12")
    parser.add_argument("--trust", required=True, choices=sorted(TRUST))
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--key", help="PEM private key to sign the request with")
    parser.add_argument("--cert", help="PEM certificate of --key")
    parser.add_argument("--digest", action="store_true", help="send a PasswordDigest")
    parser.add_argument("--applies-to", required=True)
    args = parser.parse_args()

    wsse = []
    if args.username:
        wsse.append(UsernameToken(args.username, args.password, use_digest=args.digest))
    if args.key:
        import xmlsec

        wsse.append(Timestamp())
        wsse.append(BinarySignature(args.key, args.cert, signature_method=xmlsec.Transform.RSA_SHA256,
                                    digest_method=xmlsec.Transform.SHA256))
    client = build_client(args.wsdl, Compose(wsse))
    service = client.bind("SecurityTokenService", args.port)
    ns = TRUST[args.trust]
    rst = [
        applies_to(args.applies_to),
        xsd.AnyObject(client.get_element("{%s}KeyType" % ns), BEARER[args.trust]),
        xsd.AnyObject(client.get_element("{%s}RequestType" % ns), ns + "/Issue"),
    ]
    return issue_and_print(service, rst)


if __name__ == "__main__":
    sys.exit(main())
