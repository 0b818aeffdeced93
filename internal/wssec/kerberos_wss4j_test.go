package wssec

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/trustbroker/trustbroker/internal/testtools"
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

// TestKerberosVerifyWSS4J: the Security header Apache WSS4J's
// KerberosSecurity writes (Java GSS-API login with a password, service
// ticket, GSS_Kerberosv5_AP_REQ token) parses, verifies as
// alice@EXAMPLE.COM, and offers the key WSS4J signs with.
func TestKerberosVerifyWSS4J(t *testing.T) {
	java := testtools.Tool(t, "java")
	classpath := testtools.JavaClasspath(t, "libwss4j-java", krbWSS4JClasspath...)

	r := startKrbRealm(t)
	dir := t.TempDir()
	confPath, outXML, outKey := filepath.Join(dir, "krb5.conf"), filepath.Join(dir, "out.xml"), filepath.Join(dir, "out.key")
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
		confPath, krbUser+"@"+krbRealm, krbPassword, "HTTP@sts.example.com", outXML, outKey)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("WSS4J client: %v\n%s\nKDC log:\n%s", err, out, r.kdc.Log())
	}

	doc := etree.NewDocument()
	if err := doc.ReadFromFile(outXML); err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(findSecurity(t, doc.Root()))
	if err != nil {
		t.Fatalf("ParseHeader(WSS4J header): %v", err)
	}
	tok, ok := h.Lookup("#BST-kerberos-1")
	bst, isBST := tok.(*BinarySecurityToken)
	if !ok || !isBST || bst.ValueType != ValueTypeKerberosGSSAPREQ {
		t.Fatalf("WSS4J's token not found as a GSS_Kerberosv5_AP_REQ BinarySecurityToken: %#v", tok)
	}

	now := time.Now()
	id, err := krbSTSVerifier(t, r.stsKeytab).Verify(context.Background(), bst, now, NewMemoryReplayStore(10, time.Now))
	wantKrbIdentity(t, id, err, now)

	keyB64, err := os.ReadFile(outKey)
	if err != nil {
		t.Fatal(err)
	}
	wssKey, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(keyB64)))
	if err != nil {
		t.Fatal(err)
	}
	// WSS4J 1.6 signs with the ticket's session key although it sends a
	// subkey; the verifier must offer that key.
	if !bytes.Equal(id.SessionKey.KeyValue, wssKey) {
		t.Errorf("WSS4J's secret key is not the ticket session key")
	}
	if keys := id.SignatureKeys(); !slices.ContainsFunc(keys, func(k types.EncryptionKey) bool { return bytes.Equal(k.KeyValue, wssKey) }) {
		t.Errorf("SignatureKeys does not offer WSS4J's key")
	}
}
