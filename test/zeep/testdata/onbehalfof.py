"""Ask the STS, with zeep, for a token on behalf of another user.

Like issue.py, the client is built from the STS's WSDL and authenticates
with a UsernameToken; the RST also carries wst:OnBehalfOf holding the
token read from --on-behalf-of (any XML, sent as a raw lxml element: zeep
passes elements it does not know through the schema's open content).

Prints the same JSON as issue.py.
"""

import argparse
import sys

from lxml import etree
from zeep import xsd
from zeep.wsse.username import UsernameToken

from issue import BEARER, TRUST, applies_to, build_client, issue_and_print


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

    client = build_client(args.wsdl, UsernameToken(args.username, args.password))
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
    return issue_and_print(service, rst)


if __name__ == "__main__":
    sys.exit(main())
