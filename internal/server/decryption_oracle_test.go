package server_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// TestDecryptionOracle is the Jager-Somorovsky attack on XML Encryption: an
// attacker who captured an encrypted request changes its ciphertext and
// watches how the STS fails, to learn the plaintext a byte at a time. Every
// variant must get the same fault, byte for byte, and no fault or log line
// may name decrypted content.
func TestDecryptionOracle(t *testing.T) {
	sts, decryption := decryptingSTS(t, "aes256-gcm", "aes128-gcm", "aes128-cbc", "aes256-cbc")
	fixed := time.Now()
	sts.Server.Now = func() time.Time { return fixed }

	cbc, contentType := sealRequest(t, sts, encryptedPart{path: "//Body/*", cert: decryption.Cert, data: xmlsec.AES128CBC, keyInHeader: true})
	gcm, _ := sealRequest(t, sts, encryptedPart{path: "//Body/*", cert: decryption.Cert, keyInHeader: true})

	variants := []struct {
		name   string
		sealed []byte
		change func(cipher []byte) []byte
		uri    string
	}{
		{"truncated by a block", cbc, func(c []byte) []byte { return c[:len(c)-16] }, ""},
		{"truncated inside a block", cbc, func(c []byte) []byte { return c[:len(c)-5] }, ""},
		{"re-padded: last byte of the next-to-last block flipped", cbc, flipAt(-17, 0x01), ""},
		{"padding kept, first plaintext block garbled (IV flipped)", cbc, flipAt(0, 0x01), ""},
		{"GCM tag flipped", gcm, flipAt(-1, 0x80), ""},
		{"GCM rewritten to CBC of the same key size", gcm, nil, xmlsec.URIAES256CBC},
		{"GCM rewritten to a CBC not listed", gcm, nil, xmlsec.URIAES192CBC},
	}
	var first []byte
	for _, v := range variants {
		attack := tamper(t, v.sealed, v.change, v.uri)
		status, body := post(t, sts.URL, contentType, attack)
		if status == http.StatusOK {
			t.Fatalf("%s: accepted", v.name)
		}
		if first == nil {
			first = body
			expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "could not be verified")
			continue
		}
		if !bytes.Equal(body, first) {
			t.Errorf("%s: the fault differs from the first variant's:\n%s\nfirst:\n%s", v.name, body, first)
		}
	}

	// The plaintext's texts and element names appear in no log line.
	logs := sts.Logs.String()
	r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, Now: time.Now()}
	envelope, _, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	plain := etree.NewDocument()
	if err := plain.ReadFromBytes(envelope); err != nil {
		t.Fatal(err)
	}
	for _, secret := range append(partTexts(plain.FindElement("//Body/*")), "RequestSecurityToken", "AppliesTo", echoService) {
		if strings.Contains(logs, secret) || bytes.Contains(first, []byte(secret)) {
			t.Errorf("the log or the fault names decrypted content %q", secret)
		}
	}
}

// TestDecryptionDefaultsToGCM: CBC is refused unless listed, whatever the
// request's EncryptionMethod says.
func TestDecryptionDefaultsToGCM(t *testing.T) {
	sts, decryption := decryptingSTS(t)
	status, body := postEncrypted(t, sts, encryptedPart{path: "//Body/*", cert: decryption.Cert, data: xmlsec.AES256CBC, keyInHeader: true})
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "could not be verified")
	if !strings.Contains(sts.Logs.String(), "data encryption algorithm not allowed") {
		t.Errorf("the log does not say why:\n%s", sts.Logs.String())
	}
}

// flipAt returns a change that XORs mask into the byte at i (from the end
// when negative).
func flipAt(i int, mask byte) func([]byte) []byte {
	return func(c []byte) []byte {
		out := append([]byte(nil), c...)
		if i < 0 {
			i += len(out)
		}
		out[i] ^= mask
		return out
	}
}

// tamper changes the Body's EncryptedData: its CipherValue through change,
// its EncryptionMethod to uri. Every variant gets the same MessageID, so
// that the faults' RelatesTo match.
func tamper(t *testing.T, sealed []byte, change func([]byte) []byte, uri string) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(sealed); err != nil {
		t.Fatal(err)
	}
	encData := doc.FindElement("//Body/EncryptedData")
	if encData == nil {
		t.Fatal("no EncryptedData in the Body")
	}
	if change != nil {
		cv := encData.FindElement("./CipherData/CipherValue")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cv.Text()))
		if err != nil {
			t.Fatal(err)
		}
		cv.SetText(base64.StdEncoding.EncodeToString(change(raw)))
	}
	if uri != "" {
		encData.FindElement("./EncryptionMethod").CreateAttr("Algorithm", uri)
	}
	doc.FindElement("//Header/MessageID").SetText("urn:uuid:00000000-0000-4000-8000-000000000001")
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
