# Prints libxml2's exclusive canonical form (without comments) of every
# element of each XML document named on the command line, as JSON:
# {file: [[c14n with PrefixList "", with "xs xsi", with "s wsse"], ...]}
# in document order; a document libxml2 refuses maps to null, an element it
# cannot canonicalise (a relative namespace URI, say) to null.
import base64, json, sys
from lxml import etree

PREFIX_LISTS = [[], ["xs", "xsi"], ["s", "wsse"]]
out = {}
for f in sys.argv[1:]:
    try:
        doc = etree.parse(f, etree.XMLParser(resolve_entities=False, no_network=True))
    except Exception:
        out[f] = None
        continue
    forms = []
    for el in doc.iter(etree.Element):
        try:
            forms.append([base64.b64encode(etree.tostring(el, method="c14n", exclusive=True, with_comments=False,
                                                          inclusive_ns_prefixes=p or None)).decode() for p in PREFIX_LISTS])
        except etree.C14NError:
            forms.append(None)
    out[f] = forms
json.dump(out, sys.stdout)
