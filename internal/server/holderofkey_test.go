package server_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// relyingPartyKeys is a relying party's encryption key pair, with the files
// xmlsec1 reads.
type relyingPartyKeys struct {
	pair             *devkeys.Pair
	keyFile, pemText string
}

func newRelyingPartyKeys(t testing.TB) relyingPartyKeys {
	t.Helper()
	pair, err := devkeys.NewRSA("rp.example.com", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "rp.key")
	if err := os.WriteFile(keyFile, pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return relyingPartyKeys{pair: pair, keyFile: keyFile, pemText: "        " + strings.ReplaceAll(strings.TrimSpace(string(pair.CertPEM)), "\n", "\n        ")}
}

// relyingPartyManifest is a relying party with the given key types and
// encryption settings (YAML under spec.encryption, certificate added).
func relyingPartyManifest(name, endpoint, keyTypes, encryption string, keys relyingPartyKeys) string {
	return fmt.Sprintf(`apiVersion: sts.trustbroker.io/v1alpha1
kind: RelyingParty
metadata: {name: %s}
spec:
  stsRef: {name: dev-sts}
  endpoint: %s
  allowedKeyTypes: %s
  encryption:
%s    certificate:
      pem: |
%s
`, name, endpoint, keyTypes, encryption, keys.pemText)
}

// TestHolderOfKeySymmetric covers the matrix rows with a UsernameToken
// caller and a symmetric proof key (rows 6, 8, 14, 15; 19 and 20 without a
// KeyType): the key the requestor derives equals the one the relying party
// decrypts from the assertion. Over TLS, where the proof key is sent in
// clear (plain HTTP: TestSymmetricProofKeyNeverInClear).
func TestHolderOfKeySymmetric(t *testing.T) {
	keys := newRelyingPartyKeys(t)
	sts := testfixture.StartSTS(t, map[string]string{
		"hok.yaml":    relyingPartyManifest("hok", "urn:example:hok", "[SymmetricKey, PublicKey, Bearer]", "", keys),
		"hok-v1.yaml": strings.Replace(relyingPartyManifest("hok-v1", "urn:example:hok-v1", "[SymmetricKey]", "", keys), "  allowedKeyTypes", "  tokenType: SAML11\n  allowedKeyTypes", 1),
	})
	tlsBase, tlsClient := serveAlso(t, sts, true, nil)
	clientEntropy := make([]byte, 32)
	_, _ = rand.Read(clientEntropy)
	cases := []struct {
		name string
		req  client.Request
		// key computes the expected proof key from the RSTR.
		key func(t *testing.T, rstr *etree.Document) []byte
	}{
		{"entropy and P-SHA1", client.Request{AppliesTo: "urn:example:hok", KeyType: "SymmetricKey", Entropy: clientEntropy, PSHA1: true, KeySize: 256},
			func(t *testing.T, rstr *etree.Document) []byte {
				if got := rstr.FindElement("//RequestedProofToken/ComputedKey").Text(); got != "http://docs.oasis-open.org/ws-sx/ws-trust/200512/CK/PSHA1" {
					t.Errorf("ComputedKey = %q", got)
				}
				if got := rstr.FindElement("//RequestSecurityTokenResponse/KeySize").Text(); got != "256" {
					t.Errorf("KeySize = %q", got)
				}
				serverEntropy := decode(t, rstr.FindElement("//RequestSecurityTokenResponse/Entropy/BinarySecret").Text())
				return issuer.PSHA1(clientEntropy, serverEntropy, 32)
			}},
		{"WS-Trust 2005 with P-SHA1", client.Request{AppliesTo: "urn:example:hok", Trust: "2005", KeyType: "SymmetricKey", Entropy: clientEntropy, PSHA1: true},
			func(t *testing.T, rstr *etree.Document) []byte {
				serverEntropy := decode(t, rstr.FindElement("//RequestSecurityTokenResponse/Entropy/BinarySecret").Text())
				return issuer.PSHA1(clientEntropy, serverEntropy, 32)
			}},
		{"server-chosen key", client.Request{AppliesTo: "urn:example:hok", KeyType: "SymmetricKey", KeySize: 128},
			func(t *testing.T, rstr *etree.Document) []byte {
				key := decode(t, rstr.FindElement("//RequestedProofToken/BinarySecret").Text())
				if len(key) != 16 {
					t.Errorf("key of %d bytes, want the 128 bits asked for", len(key))
				}
				return key
			}},
		{"requestor's entropy as the key", client.Request{AppliesTo: "urn:example:hok", KeyType: "SymmetricKey", Entropy: clientEntropy},
			func(t *testing.T, rstr *etree.Document) []byte {
				if rstr.FindElement("//RequestedProofToken") != nil {
					t.Error("a proof token was sent for a key the requestor chose")
				}
				return clientEntropy
			}},
		{"no KeyType, symmetric first (matrix rows 19, 20)", client.Request{AppliesTo: "urn:example:hok-v1", KeyType: "none", SOAP: "1.1"},
			func(t *testing.T, rstr *etree.Document) []byte {
				if got := rstr.FindElement("//RequestSecurityTokenResponse/KeyType").Text(); got != "http://docs.oasis-open.org/ws-sx/ws-trust/200512/SymmetricKey" {
					t.Errorf("KeyType = %q", got)
				}
				return decode(t, rstr.FindElement("//RequestedProofToken/BinarySecret").Text())
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Username, tc.req.Password = "alice", "alice-password"
			status, body := postEnvelope(t, tlsClient, tlsBase+"/sts", tc.req, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d:\n%s", status, body)
			}
			rstr := parse(t, body)
			want := tc.key(t, rstr)

			a, doc := verifiedAssertion(t, sts.CertFile, body, 0)
			if a.Confirmation.Method != saml.HolderOfKey {
				t.Fatalf("confirmation %v, want holder-of-key", a.Confirmation.Method)
			}
			encKey := doc.FindElement("//SubjectConfirmation//KeyInfo/EncryptedKey")
			if encKey == nil {
				t.Fatalf("no EncryptedKey in the subject confirmation:\n%s", body)
			}
			got, err := (&xmlsec.Decrypter{Key: keys.pair.Key}).DecryptKey(encKey)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("the relying party decrypts key %x, the requestor holds %x", got, want)
			}
		})
	}
}

// TestHolderOfKeyPublic binds the token to the requestor's certificate
// given in UseKey (matrix row 9 with a UsernameToken caller).
func TestHolderOfKeyPublic(t *testing.T) {
	keys := newRelyingPartyKeys(t)
	sts := testfixture.StartSTS(t, map[string]string{"hok.yaml": relyingPartyManifest("hok", "urn:example:hok", "[PublicKey]", "", keys)})
	requestor, err := devkeys.NewRSA("requestor", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body := issueOK(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: "urn:example:hok", KeyType: "PublicKey", UseKey: requestor.Cert})
	token, _ := client.Token(body)
	verifyWithXmlsec1(t, sts.CertFile, token, saml.SAML20)
	doc := parse(t, []byte(token))
	cert := doc.FindElement("//SubjectConfirmation//KeyInfo/X509Data/X509Certificate")
	if cert == nil || !bytes.Equal(decode(t, cert.Text()), requestor.Cert.Raw) {
		t.Fatalf("the assertion is not bound to the UseKey certificate:\n%s", token)
	}
	if got := parse(t, body).FindElement("//RequestSecurityTokenResponse/KeyType").Text(); got != "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey" {
		t.Errorf("KeyType = %q", got)
	}
}

// TestEncryptedTokens encrypts tokens for the relying party with every data
// algorithm and key transport; the relying party (xmlsec1, or our decrypter
// where xmlsec1 lacks the algorithm) decrypts, and xmlsec1 verifies the
// signature of what it decrypted.
func TestEncryptedTokens(t *testing.T) {
	keys := newRelyingPartyKeys(t)
	type combo struct{ data, transport string }
	var combos []combo
	for _, d := range []string{"aes256-gcm", "aes128-gcm", "aes128-cbc", "aes192-cbc", "aes256-cbc", "tripledes-cbc"} {
		combos = append(combos, combo{d, "rsa-oaep"})
	}
	combos = append(combos, combo{"aes256-gcm", "rsa-oaep-sha256"}, combo{"aes128-cbc", "rsa-1_5"})
	manifests := map[string]string{}
	for i, c := range combos {
		enc := fmt.Sprintf("    enabled: true\n    dataAlgorithm: %s\n    keyTransport: %s\n", c.data, c.transport)
		if c.transport == "rsa-1_5" {
			enc += "    allowInsecureKeyTransport: true\n"
		}
		manifests[fmt.Sprintf("enc%d.yaml", i)] = relyingPartyManifest(fmt.Sprintf("enc%d", i), fmt.Sprintf("urn:example:enc%d", i), "[Bearer]", enc, keys)
	}
	sts := testfixture.StartSTS(t, manifests)
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	for i, c := range combos {
		for _, tokenType := range []string{"saml2", "saml1"} {
			t.Run(c.data+"/"+c.transport+"/"+tokenType, func(t *testing.T) {
				body := issueOK(t, sts, client.Request{Username: "alice", Password: "alice-password", AppliesTo: fmt.Sprintf("urn:example:enc%d", i), TokenType: tokenType})
				doc := parse(t, body)
				token := doc.FindElement("//RequestedSecurityToken").ChildElements()[0]
				wantTag := "EncryptedAssertion"
				if tokenType == "saml1" {
					wantTag = "EncryptedData"
				}
				if token.Tag != wantTag {
					t.Fatalf("token is %s, want %s", token.Tag, wantTag)
				}
				if strings.Contains(string(body), "alice@example.com") {
					t.Fatal("the encrypted token's content is readable in the response")
				}
				if ref := doc.FindElement("//RequestedAttachedReference//KeyIdentifier"); ref == nil || ref.Text() == "" {
					t.Error("no attached reference to the encrypted token")
				}
				encData := token
				if tokenType == "saml2" {
					encData = token.ChildElements()[0]
				}
				var plain string
				if c.transport == "rsa-oaep" {
					plain = decryptWithXmlsec1(t, xmlsec1, keys.keyFile, encData)
				} else {
					el, err := (&xmlsec.Decrypter{Key: keys.pair.Key, Allowed: xmlsec.EncryptionPolicy{AllowRSA15: true}}).DecryptElement(encData)
					if err != nil {
						t.Fatal(err)
					}
					d := etree.NewDocument()
					d.SetRoot(el)
					plain, _ = d.WriteToString()
				}
				version := saml.SAML20
				if tokenType == "saml1" {
					version = saml.SAML11
				}
				verifyWithXmlsec1(t, sts.CertFile, plain, version)
				if !strings.Contains(plain, "alice") {
					t.Errorf("decrypted token lacks the subject:\n%s", plain)
				}
			})
		}
	}
}

// TestProofKeyRefusals: each request the STS cannot satisfy gets its fault.
func TestProofKeyRefusals(t *testing.T) {
	keys := newRelyingPartyKeys(t)
	expired, err := devkeys.NewRSA("expired.example.com", time.Now().Add(-48*time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expiredKeys := relyingPartyKeys{pair: expired, pemText: "        " + strings.ReplaceAll(strings.TrimSpace(string(expired.CertPEM)), "\n", "\n        ")}
	sts := testfixture.StartSTS(t, map[string]string{
		"hok.yaml":     relyingPartyManifest("hok", "urn:example:hok", "[SymmetricKey, Bearer]", "", keys),
		"expired.yaml": relyingPartyManifest("expired", "urn:example:expired", "[SymmetricKey]", "", expiredKeys),
		"nocert.yaml":  "apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: nocert}\nspec: {stsRef: {name: dev-sts}, endpoint: 'urn:example:nocert', allowedKeyTypes: [SymmetricKey]}\n",
	})
	cases := []struct {
		name     string
		req      client.Request
		code, ns string
		reason   string
	}{
		{"no relying party certificate", client.Request{AppliesTo: "urn:example:nocert", KeyType: "SymmetricKey"}, "RequestFailed", nsTrust13, "has no certificate to encrypt"},
		{"expired relying party certificate", client.Request{AppliesTo: "urn:example:expired", KeyType: "SymmetricKey"}, "RequestFailed", nsTrust13, "is not valid now"},
		{"key type not allowed", client.Request{AppliesTo: "urn:example:hok", KeyType: "PublicKey"}, "InvalidRequest", nsTrust13, "it accepts SymmetricKey, Bearer"},
		{"key size out of range", client.Request{AppliesTo: "urn:example:hok", KeyType: "SymmetricKey", KeySize: 4096}, "InvalidRequest", nsTrust13, "KeySize 4096 is not supported"},
		{"entropy too short", client.Request{AppliesTo: "urn:example:hok", KeyType: "SymmetricKey", Entropy: []byte("short")}, "InvalidRequest", nsTrust13, "entropy is 40 bits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Endpoint, tc.req.Username, tc.req.Password, tc.req.Now = sts.URL, "alice", "alice-password", time.Now()
			status, body, err := tc.req.Do(http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", tc.ns, tc.code, tc.reason)
		})
	}
}

func issueOK(t *testing.T, sts *testfixture.STS, r client.Request) []byte {
	t.Helper()
	r.Endpoint, r.Now = sts.URL, time.Now()
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("status %d:\n%s", status, body)
	}
	return body
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decryptWithXmlsec1 decrypts an EncryptedData with the real xmlsec1.
func decryptWithXmlsec1(t *testing.T, xmlsec1, keyFile string, encData *etree.Element) string {
	t.Helper()
	d := etree.NewDocument()
	d.SetRoot(encData.Copy())
	file := filepath.Join(t.TempDir(), "encrypted.xml")
	if err := d.WriteToFile(file); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmlsec1, "--decrypt", "--privkey-pem", keyFile, file).Output()
	if err != nil {
		t.Fatalf("xmlsec1 --decrypt: %v\n%s", err, out)
	}
	return string(out)
}
