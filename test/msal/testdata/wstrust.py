"""Asks the STS for a token the way MSAL for Python does for a federated
user: MSAL's own mex reader finds the usernamemixed endpoints, and MSAL's
own WS-Trust client sends the RST and parses the RSTR.

usage: wstrust.py CA_FILE USERNAME PASSWORD APPLIES_TO mex MEX_URL
       wstrust.py CA_FILE USERNAME PASSWORD APPLIES_TO endpoint URL

Prints one JSON object: for mex, "picked" (what msal.mex.send_request
returns) and "endpoints" (every usernamemixed endpoint MSAL's reader sees);
"tokens" maps the endpoint URLs asked to {"type", "token"} or {"error"}.
"""
import json
import sys

import requests

from msal import mex, wstrust_request


def ask(session, username, password, applies_to, address, action):
    try:
        got = wstrust_request.send_request(
            username, password, applies_to, address, action, session)
        return {"type": got["type"], "token": got["token"].decode("ascii")}
    except Exception as e:  # the test prints what MSAL raised
        return {"error": "%s: %s" % (type(e).__name__, e)}


def main():
    ca_file, username, password, applies_to, mode, url = sys.argv[1:7]
    session = requests.Session()
    # The CA given, whatever the environment names (requests lets
    # REQUESTS_CA_BUNDLE override verify), and no proxy for loopback.
    session.trust_env = False
    session.verify = ca_file
    out = {"tokens": {}}
    if mode == "mex":
        out["picked"] = mex.send_request(url, session)
        doc = mex.Mex(session.get(url).text)
        endpoints = doc._get_endpoints(
            doc._get_bindings(), doc._get_username_password_policy_ids())
        out["endpoints"] = endpoints
        for e in endpoints:
            out["tokens"][e["address"]] = ask(
                session, username, password, applies_to, e["address"], e["action"])
    else:
        out["tokens"][url] = ask(session, username, password, applies_to, url, None)
    json.dump(out, sys.stdout)


main()
