"""Signs a SOAP envelope with python3-zeep's BinarySignature (xmlsec), as an
independent WS-Security peer for the Go tests.

usage: zeep_sign.py KEY.pem CERT.pem IN.xml OUT.xml

The envelope must already carry a wsse:Security header with a Timestamp;
zeep signs the Body and the Timestamp with RSA-SHA256 and SHA-256 digests
and references its certificate from a BinarySecurityToken.
"""

import sys

import xmlsec
from lxml import etree
from zeep.wsse.signature import BinarySignature


def main():
    key, cert, src, dst = sys.argv[1:5]
    envelope = etree.parse(src).getroot()
    signer = BinarySignature(
        key,
        cert,
        signature_method=xmlsec.Transform.RSA_SHA256,
        digest_method=xmlsec.Transform.SHA256,
    )
    envelope, _ = signer.apply(envelope, {})
    with open(dst, "wb") as out:
        out.write(etree.tostring(envelope))


if __name__ == "__main__":
    main()
