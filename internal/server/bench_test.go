package server_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// BenchmarkIssueSAML20Bearer is the whole request path (parse, authenticate,
// issue, sign, write) without the network; compare with BenchmarkRSASign.
func BenchmarkIssueSAML20Bearer(b *testing.B) {
	sts := testfixture.StartSTS(b, nil)
	handler := sts.Server.Handler()
	r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, TokenType: "saml2", Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		mustIssue(b, handler, envelope, contentType)
	}
}

// BenchmarkIssueX509Signed is the whole path of a request signed with a
// registered client certificate (signature and certificate checks, replay
// record, issue, sign, write); each request is signed anew, outside the
// timer, since a signature is accepted once.
func BenchmarkIssueX509Signed(b *testing.B) {
	caller, err := devkeys.NewRSA("bench-client", time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	sts := x509STS(b, caller, newRelyingPartyKeys(b))
	handler := sts.Server.Handler()
	r := client.Request{Endpoint: sts.URL, AppliesTo: "urn:example:hok", KeyType: "Bearer", SigningKey: caller.Key, SigningCert: caller.Cert}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		r.Now = time.Now()
		envelope, contentType, err := r.Envelope()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		mustIssue(b, handler, envelope, contentType)
	}
}

// mustIssue has handler answer one request, which must get a token.
func mustIssue(b *testing.B, handler http.Handler, envelope []byte, contentType string) {
	req := httptest.NewRequest(http.MethodPost, "/sts", bytes.NewReader(envelope))
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
}

// BenchmarkRSASign is one bare RSA-2048 PKCS#1 v1.5 SHA-256 signature with
// the STS's key.
func BenchmarkRSASign(b *testing.B) {
	sts := testfixture.StartSTS(b, nil)
	digest := sha256.Sum256([]byte("trustbroker"))
	for b.Loop() {
		if _, err := sts.Signing.Key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
