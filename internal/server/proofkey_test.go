package server_test

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// TestSymmetricProofKeyNeverInClear: a symmetric proof key (or the STS's
// entropy it is computed from) goes to the requestor in clear only over
// TLS. Over plain HTTP it is encrypted for the certificate the request was
// signed with, and a requestor without one is refused.
func TestSymmetricProofKeyNeverInClear(t *testing.T) {
	caller, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keys := newRelyingPartyKeys(t)
	sts := x509STS(t, caller, keys)
	tlsBase, tlsClient := serveAlso(t, sts, true, nil)
	proxied, _ := serveAlso(t, sts, false, func(s *server.Server) {
		s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	clientEntropy := make([]byte, 32)
	_, _ = rand.Read(clientEntropy)
	alice := func(r client.Request) client.Request {
		r.AppliesTo, r.KeyType, r.Username, r.Password = "urn:example:hok", "SymmetricKey", "alice", "alice-password"
		return r
	}
	signed := func(r client.Request) client.Request {
		r.AppliesTo, r.KeyType, r.SigningKey, r.SigningCert = "urn:example:hok", "SymmetricKey", caller.Key, caller.Cert
		return r
	}

	t.Run("refused over plain HTTP without a certificate", func(t *testing.T) {
		for name, r := range map[string]client.Request{
			"STS-chosen key":       alice(client.Request{}),
			"P-SHA1":               alice(client.Request{Entropy: clientEntropy, PSHA1: true}),
			"requestor-chosen key": alice(client.Request{Entropy: clientEntropy}),
			// urn:example:hok lists SymmetricKey first: without a KeyType a
			// password caller gets a symmetric key.
			"no KeyType, symmetric": {AppliesTo: "urn:example:hok", KeyType: "none", Username: "alice", Password: "alice-password", SOAP: "1.1"},
		} {
			t.Run(name, func(t *testing.T) {
				status, body := postEnvelope(t, http.DefaultClient, sts.URL, r, nil)
				soapVersion := "1.2"
				if r.SOAP == "1.1" {
					soapVersion = "1.1"
				}
				expectFault(t, status, body, soapVersion, nsTrust13, "InvalidRequest", "over HTTPS, or sign it with an X.509 certificate")
				if bytes.Contains(body, []byte("BinarySecret")) || bytes.Contains(body, []byte("Assertion")) {
					t.Errorf("the refusal carries key material or a token:\n%s", body)
				}
			})
		}
	})

	t.Run("refused when a peer that is no trusted proxy claims TLS", func(t *testing.T) {
		status, body := postEnvelope(t, http.DefaultClient, sts.URL, alice(client.Request{}), map[string]string{"X-Forwarded-Proto": "https"})
		expectFault(t, status, body, "1.2", nsTrust13, "InvalidRequest", "over HTTPS")
	})

	t.Run("in clear over TLS", func(t *testing.T) {
		status, body := postEnvelope(t, tlsClient, tlsBase+"/sts", alice(client.Request{KeySize: 128}), nil)
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		key := decode(t, parse(t, body).FindElement("//RequestedProofToken/BinarySecret").Text())
		if len(key) != 16 {
			t.Fatalf("proof key of %d bytes, want 16", len(key))
		}
		if got := relyingPartyProofKey(t, sts.CertFile, keys, body); !bytes.Equal(got, key) {
			t.Fatalf("the relying party holds %x, the requestor got %x", got, key)
		}
	})

	t.Run("in clear behind a trusted proxy that saw TLS", func(t *testing.T) {
		status, body := postEnvelope(t, http.DefaultClient, proxied+"/sts", alice(client.Request{}), map[string]string{"X-Forwarded-Proto": "https"})
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		if parse(t, body).FindElement("//RequestedProofToken/BinarySecret") == nil {
			t.Fatalf("no BinarySecret behind a trusted TLS proxy:\n%s", body)
		}
	})

	t.Run("encrypted for the signing certificate over plain HTTP", func(t *testing.T) {
		status, body := postEnvelope(t, http.DefaultClient, sts.URL, signed(client.Request{}), nil)
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		rstr := parse(t, body)
		assertNoClearSecret(t, rstr)
		encKey := rstr.FindElement("//RequestedProofToken/EncryptedKey")
		if encKey == nil {
			t.Fatalf("no EncryptedKey in RequestedProofToken:\n%s", body)
		}
		if m := encKey.FindElement("EncryptionMethod"); m == nil || m.SelectAttrValue("Algorithm", "") != "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" {
			t.Errorf("the proof key is not wrapped with RSA-OAEP:\n%s", body)
		}
		key, err := (&xmlsec.Decrypter{Key: caller.Key}).DecryptKey(encKey)
		if err != nil {
			t.Fatalf("the requestor cannot decrypt its proof key: %v", err)
		}
		if got := relyingPartyProofKey(t, sts.CertFile, keys, body); !bytes.Equal(got, key) {
			t.Fatalf("the relying party holds %x, the requestor decrypted %x", got, key)
		}
		if _, err := (&xmlsec.Decrypter{Key: keys.pair.Key}).DecryptKey(encKey); err == nil {
			t.Error("the requestor's proof key opens with another key")
		}
	})

	t.Run("P-SHA1 with the STS's entropy encrypted over plain HTTP", func(t *testing.T) {
		status, body := postEnvelope(t, http.DefaultClient, sts.URL, signed(client.Request{Entropy: clientEntropy, PSHA1: true}), nil)
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		rstr := parse(t, body)
		assertNoClearSecret(t, rstr)
		if got := rstr.FindElement("//RequestedProofToken/ComputedKey"); got == nil || !strings.HasSuffix(got.Text(), "/CK/PSHA1") {
			t.Errorf("no ComputedKey PSHA1:\n%s", body)
		}
		encEntropy := rstr.FindElement("//RequestSecurityTokenResponse/Entropy/EncryptedKey")
		if encEntropy == nil {
			t.Fatalf("no EncryptedKey in the STS's Entropy:\n%s", body)
		}
		serverEntropy, err := (&xmlsec.Decrypter{Key: caller.Key}).DecryptKey(encEntropy)
		if err != nil {
			t.Fatalf("the requestor cannot decrypt the STS's entropy: %v", err)
		}
		want := issuer.PSHA1(clientEntropy, serverEntropy, 32)
		if got := relyingPartyProofKey(t, sts.CertFile, keys, body); !bytes.Equal(got, want) {
			t.Fatalf("the relying party holds %x, the requestor computes %x", got, want)
		}
	})

	t.Run("the requestor's own key needs nothing back", func(t *testing.T) {
		status, body := postEnvelope(t, http.DefaultClient, sts.URL, signed(client.Request{Entropy: clientEntropy}), nil)
		if status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, body)
		}
		if parse(t, body).FindElement("//RequestedProofToken") != nil {
			t.Errorf("a proof token was sent for a key the requestor chose:\n%s", body)
		}
		if got := relyingPartyProofKey(t, sts.CertFile, keys, body); !bytes.Equal(got, clientEntropy) {
			t.Fatalf("the relying party holds %x, the requestor chose %x", got, clientEntropy)
		}
	})
}

// relyingPartyProofKey is the proof key the relying party reads from the
// assertion's SubjectConfirmation with its own key.
func relyingPartyProofKey(t *testing.T, certFile string, keys relyingPartyKeys, body []byte) []byte {
	t.Helper()
	a, doc := verifiedAssertion(t, certFile, body, 0)
	if a.Confirmation.Method != saml.HolderOfKey {
		t.Fatalf("confirmation %v, want holder-of-key", a.Confirmation.Method)
	}
	encKey := doc.FindElement("//SubjectConfirmation//KeyInfo/EncryptedKey")
	if encKey == nil {
		t.Fatal("no EncryptedKey in the subject confirmation")
	}
	key, err := (&xmlsec.Decrypter{Key: keys.pair.Key}).DecryptKey(encKey)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// assertNoClearSecret fails when the RSTR carries a BinarySecret anywhere.
func assertNoClearSecret(t *testing.T, rstr *etree.Document) {
	t.Helper()
	if bs := rstr.FindElements("//BinarySecret"); len(bs) > 0 {
		t.Fatalf("%d BinarySecret(s) in clear over plain HTTP", len(bs))
	}
}
