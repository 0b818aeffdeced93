package wssec

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// krbWSS4JClasspath is what WssKerberosBST.java needs from Debian's
// libwss4j-java (WSS4J 1.6, Santuario, their logging).
var krbWSS4JClasspath = []string{
	"/usr/share/java/wss4j.jar",
	"/usr/share/java/xmlsec.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/commons-logging.jar",
	"/usr/share/java/commons-codec.jar",
}

// wss4jKrbMessages runs WssKerberosBST.java against a test KDC and returns
// its messages by variant name, with the realm they were made in.
func wss4jKrbMessages(t *testing.T) (*krbTestRealm, map[string][]byte, []byte) {
	t.Helper()
	java := testtools.Tool(t, "java")
	classpath := testtools.JavaClasspath(t, "libwss4j-java", krbWSS4JClasspath...)

	r := startKrbRealm(t)
	dir := t.TempDir()
	confPath := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(confPath, []byte(r.kdc.Krb5Conf), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs(filepath.Join("testdata", "wss4jkrb", "WssKerberosBST.java"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, "-cp", classpath, src,
		confPath, krbUser+"@"+krbRealm, krbPassword, "HTTP@sts.example.com", dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("WSS4J client: %v\n%s\nKDC log:\n%s", err, out, r.kdc.Log())
	}
	msgs := map[string][]byte{}
	for _, name := range []string{"hmac-sha256", "hmac-sha1", "keyid", "body-only"} {
		data, err := os.ReadFile(filepath.Join(dir, name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		msgs[name] = data
	}
	keyB64, err := os.ReadFile(filepath.Join(dir, "hmac-sha256.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(keyB64)))
	if err != nil {
		t.Fatal(err)
	}
	return r, msgs, key
}

// TestKerberosVerifyWSS4J: the Security header Apache WSS4J's
// KerberosSecurity writes (Java GSS-API login with a password, service
// ticket, GSS_Kerberosv5_AP_REQ token) parses, verifies as
// alice@EXAMPLE.COM, and offers the key WSS4J signs with; the HMAC
// signature WSS4J makes with that key over Body and Timestamp verifies,
// and every message that does not bind the token to this Body and
// Timestamp is refused.
func TestKerberosVerifyWSS4J(t *testing.T) {
	r, msgs, wssKey := wss4jKrbMessages(t)
	verifier := krbSTSVerifier(t, r.stsKeytab)

	// verify checks the AP-REQ, then the signature, of one message.
	verify := func(t *testing.T, data []byte, policy xmlsec.AlgorithmPolicy) (*MessageSignature, parsedMessage, error) {
		t.Helper()
		m := parseMessage(t, data)
		tok, ok := m.header.Lookup("#BST-kerberos-1")
		bst, isBST := tok.(*BinarySecurityToken)
		if !ok || !isBST || bst.ValueType != ValueTypeKerberosGSSAPREQ {
			t.Fatalf("WSS4J's token not found as a GSS_Kerberosv5_AP_REQ BinarySecurityToken: %#v", tok)
		}
		now := time.Now()
		id, err := verifier.Verify(context.Background(), bst, now, nil)
		wantKrbIdentity(t, id, err, now)
		sig, err := (&KerberosSignatureVerifier{Algorithms: policy}).Verify(m.env, m.header, bst, id)
		return sig, m, err
	}
	// edited re-serialises a message after edit.
	edited := func(t *testing.T, data []byte, edit func(doc *etree.Document)) []byte {
		t.Helper()
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil {
			t.Fatal(err)
		}
		edit(doc)
		out, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	wantCode := func(t *testing.T, err error, code soap.FaultCode) {
		t.Helper()
		var f *soap.Fault
		if !errors.As(err, &f) || f.Code != code {
			t.Fatalf("Verify = %v, want a %s fault", err, code.Local)
		}
	}

	t.Run("signed", func(t *testing.T) {
		sig, m, err := verify(t, msgs["hmac-sha256"], xmlsec.AlgorithmPolicy{})
		if err != nil {
			t.Fatalf("WSS4J's signature: %v", err)
		}
		if sig.Token == nil || sig.Token.ID != "BST-kerberos-1" || sig.KeyReference != DirectReference || sig.Algorithm != xmlsec.HMACSHA256 {
			t.Errorf("MessageSignature = %+v", sig)
		}
		if !sig.Covers(m.env.Body) || !sig.Covers(m.header.Timestamp.Element) {
			t.Error("WSS4J's signature does not cover the Body content and the Timestamp")
		}
		tok, _ := m.header.Lookup("#BST-kerberos-1")
		id, err := verifier.Verify(context.Background(), tok.(*BinarySecurityToken), time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		// WSS4J 1.6 signs with the ticket's session key although it
		// sends a subkey; the verifier must offer that key.
		if !bytes.Equal(id.SessionKey.KeyValue, wssKey) {
			t.Errorf("WSS4J's secret key is not the ticket session key")
		}
		if keys := id.SignatureKeys(); !slices.ContainsFunc(keys, func(k types.EncryptionKey) bool { return bytes.Equal(k.KeyValue, wssKey) }) {
			t.Errorf("SignatureKeys does not offer WSS4J's key")
		}
	})
	t.Run("KeyIdentifier", func(t *testing.T) {
		sig, _, err := verify(t, msgs["keyid"], xmlsec.AlgorithmPolicy{})
		if err != nil {
			t.Fatalf("WSS4J's signature with a Kerberosv5APREQSHA1 KeyIdentifier: %v", err)
		}
		if sig.KeyReference != KerberosSHA1 {
			t.Errorf("KeyReference = %s, want %s", sig.KeyReference, KerberosSHA1)
		}
	})
	t.Run("Body changed", func(t *testing.T) {
		data := edited(t, msgs["hmac-sha256"], func(doc *etree.Document) {
			doc.FindElement("//RequestType").SetText(sigNSTrust + "/Cancel")
		})
		_, _, err := verify(t, data, xmlsec.AlgorithmPolicy{})
		wantCode(t, err, soap.FailedCheck)
	})
	t.Run("signature removed", func(t *testing.T) {
		data := edited(t, msgs["hmac-sha256"], func(doc *etree.Document) {
			sig := doc.FindElement("//Signature")
			sig.Parent().RemoveChild(sig)
		})
		_, _, err := verify(t, data, xmlsec.AlgorithmPolicy{})
		wantCode(t, err, soap.InvalidSecurity)
	})
	t.Run("Timestamp unsigned", func(t *testing.T) {
		_, _, err := verify(t, msgs["body-only"], xmlsec.AlgorithmPolicy{})
		wantFault(t, err, soap.InvalidSecurity, "Timestamp")
	})
	t.Run("hmac-sha1", func(t *testing.T) {
		_, _, err := verify(t, msgs["hmac-sha1"], xmlsec.AlgorithmPolicy{})
		wantCode(t, err, soap.UnsupportedAlgorithm)
		if _, _, err := verify(t, msgs["hmac-sha1"], xmlsec.AlgorithmPolicy{AllowSHA1: true}); err != nil {
			t.Errorf("hmac-sha1 with AllowSHA1: %v", err)
		}
	})
	t.Run("forged with another key", func(t *testing.T) {
		data := edited(t, msgs["hmac-sha256"], func(doc *etree.Document) {
			remacSignature(t, doc.FindElement("//Signature"), xmlsec.HMACSHA256, bytes.Repeat([]byte{0x42}, len(wssKey)))
		})
		_, _, err := verify(t, data, xmlsec.AlgorithmPolicy{})
		wantCode(t, err, soap.FailedCheck)
	})
}
