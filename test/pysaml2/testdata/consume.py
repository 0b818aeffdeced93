"""Reads the STS's federation metadata from its URL with pysaml2's metadata
loader: it fetches the document, parses it with its schema-bound classes
and verifies its signature with the certificate given (xmlsec1).

pysaml2's store then keeps only SAML 2.0 protocol roles (it is a SAML-P
service provider), so the identity provider is read from the parsed
EntityDescriptor itself.

usage: consume.py METADATA_URL SIGNING_CERT_FILE

Prints one JSON object: {"entityID", "roles" (xsi:type of each
RoleDescriptor), "sso" ([{binding, location}]), "nameIDFormats",
"signingCerts" (base64 DER)} or {"error": "..."}.
"""
import json
import sys

from saml2.config import SPConfig
from saml2.httpbase import HTTPBase
from saml2.mdstore import MetaDataExtern
from saml2.sigver import security_context

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def main():
    url, cert = sys.argv[1:3]
    try:
        conf = SPConfig()
        conf.load({"entityid": "https://app.example.com/", "xmlsec_binary": "/usr/bin/xmlsec1", "service": {"sp": {}}})
        loader = MetaDataExtern(
            [], url=url, security=security_context(conf), cert=cert, http=HTTPBase(),
            node_name="urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")
        if not loader.load():
            raise RuntimeError("the signature was not verified")
        ed = loader.entity_descr
        idp = ed.idpsso_descriptor[0]
        certs = []
        for kd in idp.key_descriptor:
            if kd.use == "signing":
                certs += [x.x509_certificate.text.strip() for x in kd.key_info.x509_data]
        json.dump({
            "entityID": ed.entity_id,
            "roles": [r.extension_attributes.get(XSI_TYPE, "") for r in ed.role_descriptor],
            "sso": [{"binding": s.binding, "location": s.location} for s in idp.single_sign_on_service],
            "nameIDFormats": [f.text.strip() for f in idp.name_id_format],
            "signingCerts": certs,
        }, sys.stdout)
    except Exception as e:  # the test prints what pysaml2 raised
        json.dump({"error": "%s: %s" % (type(e).__name__, e)}, sys.stdout)


main()
