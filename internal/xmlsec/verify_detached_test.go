package xmlsec

import (
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// detachedDoc has two elements to sign, namespaces inherited from the
// root, and a place for the signature outside both.
const detachedDoc = `<e:Envelope xmlns:e="urn:example:env" xmlns:u="` + soap.NamespaceUtility + `" xmlns:unused="urn:example:unused">` +
	`<e:Header><e:Security/><e:To u:Id="to">https://sts.example/</e:To></e:Header>` +
	`<e:Body u:Id="body"><t:Request xmlns:t="urn:example:t"><t:Value xsi:type="xs:string" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema">v</t:Value></t:Request></e:Body>` +
	`</e:Envelope>`

// signDetachedDoc signs "to" and "body" of detachedDoc, puts the
// signature into e:Security and returns the document re-read from bytes.
func signDetachedDoc(t testing.TB, s *Signer, prefixes []string, edit func(sig *etree.Element)) *etree.Element {
	t.Helper()
	root := parseElement(t, detachedDoc)
	ix, err := IndexIDs(root)
	if err != nil {
		t.Fatal(err)
	}
	var targets []DetachedTarget
	for _, id := range []string{"to", "body"} {
		el, _ := ix.Lookup(id)
		targets = append(targets, DetachedTarget{Element: el, ID: id, InclusivePrefixes: prefixes})
	}
	sig, err := s.SignDetached(targets, nil)
	if err != nil {
		t.Fatal(err)
	}
	root.FindElement("Header/Security").AddChild(sig)
	if edit != nil {
		edit(sig)
	}
	return reparse(t, root)
}

func verifyDetachedDoc(t testing.TB, root *etree.Element, k testtools.KeyPair, opts DetachedOptions) ([]VerifiedReference, error) {
	t.Helper()
	ix, err := IndexIDs(root)
	if err != nil {
		return nil, err
	}
	sig, err := ParseDetachedSignature(root.FindElement("Header/Security/Signature"), opts)
	if err != nil {
		return nil, err
	}
	if err := sig.VerifySignatureValue(k.Cert.PublicKey); err != nil {
		return nil, err
	}
	return sig.VerifyReferences(ix.Lookup)
}

// TestDetachedRoundTrip signs and verifies with each key type and checks
// the references resolve to the document's own elements.
func TestDetachedRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		kind     string
		alg      SignatureAlgorithm
		prefixes []string
	}{
		{"rsa-sha256", "rsa2048", RSASHA256, nil},
		{"rsa-sha512 with PrefixList", "rsa2048", RSASHA512, []string{"e", "xs"}},
		{"ecdsa-sha256", "p256", ECDSASHA256, nil},
		{"#default without a default namespace", "rsa2048", RSASHA256, []string{"#default", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newTestKey(t, "detached-"+tt.kind, tt.kind)
			root := signDetachedDoc(t, mustSigner(t, k, tt.alg, SHA256, AlgorithmPolicy{}), tt.prefixes, nil)
			refs, err := verifyDetachedDoc(t, root, k, DetachedOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(refs) != 2 || refs[0].Element != root.FindElement("Header/To") || refs[1].Element != root.FindElement("Body") {
				t.Fatalf("references resolved to the wrong elements: %+v", refs)
			}
		})
	}
}

// TestDetachedRefuses checks each refusal and its fault code.
func TestDetachedRefuses(t *testing.T) {
	k := newTestKey(t, "detached-rsa2048", "rsa2048")
	other := newTestKey(t, "detached-other", "rsa2048")
	ec := newTestKey(t, "detached-p256", "p256")
	ref := func(sig *etree.Element) *etree.Element { return sig.FindElement("SignedInfo/Reference") }
	tests := []struct {
		name   string
		edit   func(sig *etree.Element)
		key    testtools.KeyPair
		opts   DetachedOptions
		code   soap.FaultCode
		reason string
	}{
		{"URI without #", func(s *etree.Element) { ref(s).CreateAttr("URI", "to") }, k, DetachedOptions{}, soap.InvalidSecurity, "same-document"},
		{"empty URI", func(s *etree.Element) { ref(s).CreateAttr("URI", "") }, k, DetachedOptions{}, soap.InvalidSecurity, "same-document"},
		{"XPointer", func(s *etree.Element) { ref(s).CreateAttr("URI", "#xpointer(/)") }, k, DetachedOptions{}, soap.InvalidSecurity, "same-document"},
		{"unknown id", func(s *etree.Element) { ref(s).CreateAttr("URI", "#nowhere") }, k, DetachedOptions{}, soap.FailedCheck, "not valid"},
		{"too many references", nil, k, DetachedOptions{MaxReferences: 1}, soap.InvalidSecurity, "too many"},
		{"SHA-1 digest not allowed", func(s *etree.Element) {
			ref(s).FindElement("DigestMethod").CreateAttr("Algorithm", URISHA1)
		}, k, DetachedOptions{}, soap.UnsupportedAlgorithm, "digest"},
		{"XSLT transform", func(s *etree.Element) {
			ref(s).FindElement("Transforms/Transform").CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116")
		}, k, DetachedOptions{}, soap.UnsupportedAlgorithm, "exclusive c14n"},
		{"two transforms", func(s *etree.Element) {
			tr := ref(s).FindElement("Transforms")
			tr.AddChild(tr.FindElement("Transform").Copy())
		}, k, DetachedOptions{}, soap.UnsupportedAlgorithm, "transforms"},
		{"unexpected child of Signature", func(s *etree.Element) { s.CreateElement("ds:Manifest") }, k, DetachedOptions{}, soap.InvalidSecurity, "malformed"},
		{"digest of wrong length", func(s *etree.Element) { ref(s).FindElement("DigestValue").SetText("AAAA") }, k, DetachedOptions{}, soap.InvalidSecurity, "malformed"},
		{"another key", nil, other, DetachedOptions{}, soap.FailedCheck, "not valid"},
		{"ECDSA key for an RSA signature", nil, ec, DetachedOptions{}, soap.FailedCheck, "does not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := signDetachedDoc(t, mustSigner(t, k, RSASHA256, SHA256, AlgorithmPolicy{}), nil, tt.edit)
			_, err := verifyDetachedDoc(t, root, tt.key, tt.opts)
			code, ok := faultCode(err)
			if !ok || code != tt.code {
				t.Fatalf("error = %v, want a %s fault", err, tt.code.Local)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error = %v, want it to mention %q", err, tt.reason)
			}
		})
	}
}

// TestDetachedDigestMismatch changes a signed element after signing.
func TestDetachedDigestMismatch(t *testing.T) {
	k := newTestKey(t, "detached-rsa2048", "rsa2048")
	root := signDetachedDoc(t, mustSigner(t, k, RSASHA256, SHA256, AlgorithmPolicy{}), nil, nil)
	root.FindElement("Body/Request/Value").SetText("w")
	_, err := verifyDetachedDoc(t, root, k, DetachedOptions{})
	if code, _ := faultCode(err); code != soap.FailedCheck || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("error = %v, want FailedCheck for a changed element", err)
	}
}

// TestDetachedDefaultPrefixRefused refuses "#default" where goxmldsig's
// canonicaliser would get it wrong, instead of computing a wrong digest.
func TestDetachedDefaultPrefixRefused(t *testing.T) {
	el := parseElement(t, `<a:Body xmlns:a="urn:a" xmlns="urn:default"><a:x/></a:Body>`)
	_, err := canonicalExclusive(el, "#default a", nil)
	if code, _ := faultCode(err); code != soap.UnsupportedAlgorithm {
		t.Fatalf("error = %v, want UnsupportedAlgorithm", err)
	}
}

// TestVerifyReferencesEnveloped accepts an enveloped-signature transform
// on the element that holds the signature, and nowhere else.
func TestVerifyReferencesEnveloped(t *testing.T) {
	k := newTestKey(t, "detached-rsa2048", "rsa2048")
	s := mustSigner(t, k, RSASHA256, SHA256, AlgorithmPolicy{})
	for _, tc := range []struct {
		target string
		ok     bool
	}{{"sec", true}, {"body", false}} {
		t.Run(tc.target, func(t *testing.T) {
			root := parseElement(t, `<e:Envelope xmlns:e="urn:example:env"><e:Header><e:Security Id="sec"><e:Item/></e:Security></e:Header><e:Body Id="body"/></e:Envelope>`)
			target := root.FindElement("//*[@Id='" + tc.target + "']")
			sig, err := s.SignDetached([]DetachedTarget{{Element: target, ID: tc.target}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			root.FindElement("Header/Security").AddChild(sig)
			env := etree.NewElement("ds:Transform")
			env.CreateAttr("Algorithm", URIEnvelopedSignature)
			sig.FindElement("SignedInfo/Reference/Transforms").InsertChildAt(0, env)
			root = reparse(t, root)
			parsed, err := ParseDetachedSignature(root.FindElement("Header/Security/Signature"), DetachedOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !parsed.References[0].Enveloped {
				t.Fatal("enveloped transform not recorded")
			}
			ix, _ := IndexIDs(root)
			_, err = parsed.VerifyReferences(ix.Lookup)
			if tc.ok && err != nil {
				t.Fatalf("enveloped reference to the signature's parent refused: %v", err)
			}
			if !tc.ok {
				if code, _ := faultCode(err); code != soap.InvalidSecurity {
					t.Fatalf("error = %v, want InvalidSecurity", err)
				}
			}
		})
	}
}

// TestIndexIDs checks which attributes are ids and that duplicates are
// refused whatever attribute carries them.
func TestIndexIDs(t *testing.T) {
	u := `xmlns:u="` + soap.NamespaceUtility + `"`
	tests := []struct {
		name  string
		doc   string
		ids   []string
		dup   bool
		notID []string
	}{
		{"all kinds", `<r ` + u + `><a u:Id="a"/><b Id="b"/><c ID="c"/><d AssertionID="d"/><e xml:id="e"/><f x:Id="f" xmlns:x="urn:x"/></r>`,
			[]string{"a", "b", "c", "d", "e"}, false, []string{"f"}},
		{"same value twice on one element", `<r ` + u + `><a u:Id="a" Id="a"/></r>`, []string{"a"}, false, nil},
		{"whitespace collapsed", `<r><a Id=" a "/></r>`, []string{"a"}, false, nil},
		{"wsu:Id twice", `<r ` + u + `><a u:Id="x"/><b u:Id="x"/></r>`, nil, true, nil},
		{"wsu:Id and ID", `<r ` + u + `><a u:Id="x"/><b><c ID="x"/></b></r>`, nil, true, nil},
		{"AssertionID and Id", `<r><a AssertionID="x"/><b Id=" x"/></r>`, nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := IndexIDs(parseElement(t, tt.doc))
			if tt.dup {
				if code, _ := faultCode(err); code != soap.InvalidSecurity {
					t.Fatalf("error = %v, want InvalidSecurity", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tt.ids {
				if _, ok := ix.Lookup(id); !ok {
					t.Errorf("id %q not indexed", id)
				}
			}
			for _, id := range tt.notID {
				if _, ok := ix.Lookup(id); ok {
					t.Errorf("%q indexed as an id", id)
				}
			}
		})
	}
}

// FuzzParseDetachedSignature checks that no signature element panics the
// parser or the reference check, and every refusal is a fault.
func FuzzParseDetachedSignature(f *testing.F) {
	k := newTestKey(f, "detached-rsa2048", "rsa2048")
	root := signDetachedDoc(f, mustSigner(f, k, RSASHA256, SHA256, AlgorithmPolicy{}), []string{"e", "#default"}, nil)
	f.Add([]byte(testtools.Serialize(f, root)))
	f.Add([]byte(`<ds:Signature xmlns:ds="` + NamespaceDSig + `"><ds:SignedInfo/><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		if doc.ReadFromBytes(data) != nil || doc.Root() == nil {
			return
		}
		ix, err := IndexIDs(doc.Root())
		if err != nil {
			return
		}
		for _, el := range doc.FindElements("//Signature") {
			sig, err := ParseDetachedSignature(el, DetachedOptions{})
			if err != nil {
				if _, ok := faultCode(err); !ok {
					t.Fatalf("not a fault: %v", err)
				}
				continue
			}
			_ = sig.VerifySignatureValue(k.Cert.PublicKey)
			if _, err := sig.VerifyReferences(ix.Lookup); err != nil {
				if _, ok := faultCode(err); !ok {
					t.Fatalf("not a fault: %v", err)
				}
			}
		}
	})
}
