"""Ask the STS, with zeep, for a token on behalf of another user.

Like issue.py, the client is built from the STS's WSDL and authenticates
with a UsernameToken; the RST also carries wst:OnBehalfOf holding the
token read from --on-behalf-of (any XML, sent as a raw lxml element: zeep
passes elements it does not know through the schema's open content).

Prints the same JSON as issue.py.
"""

import argparse
import json
import sys

import requests
import zeep
from lxml import etree
from zeep import xsd
from zeep.exceptions import Fault
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from issue import BEARER, TRUST, applies_to, find_assertion


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wsdl", required=True)
    parser.add_argument("--port", required=True)
    parser.add_argument("--trust", required=True, choices=sorted(TRUST))
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--applies-to", required=True)
    parser.add_argument("--on-behalf-of", required=True, help="file holding the token to act for")
    args = parser.parse_args()

    session = requests.Session()
    session.trust_env = False
    client = zeep.Client(
        args.wsdl,
        wsse=UsernameToken(args.username, args.password),
        transport=Transport(session=session, timeout=30, operation_timeout=30),
    )
    service = client.bind("SecurityTokenService", args.port)
    ns = TRUST[args.trust]
    on_behalf_of = etree.Element("{%s}OnBehalfOf" % ns, nsmap={"wst": ns})
    on_behalf_of.append(etree.parse(args.on_behalf_of).getroot())
    rst = [
        applies_to(args.applies_to),
        xsd.AnyObject(client.get_element("{%s}KeyType" % ns), BEARER[args.trust]),
        on_behalf_of,
        xsd.AnyObject(client.get_element("{%s}RequestType" % ns), ns + "/Issue"),
    ]
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


if __name__ == "__main__":
    sys.exit(main())
