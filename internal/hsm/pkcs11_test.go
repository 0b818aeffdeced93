//go:build pkcs11

package hsm

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/miekg/pkcs11"

	"github.com/trustbroker/trustbroker/internal/testtools"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

const (
	testToken = "trustbroker-test"
	testPIN   = "4711-secret-pin"
	testLabel = "sts-signing"
)

var testKeyID = []byte{0x0a, 0x01}

// token is the SoftHSM token all tests share: SoftHSM reads SOFTHSM2_CONF
// once per process, when the module is first loaded.
var token struct {
	hsm      *SoftHSM
	cert     *x509.Certificate
	other    *x509.Certificate // of a second key in the token
	setupErr error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "softhsm-")
	if err != nil {
		panic(err)
	}
	token.hsm, token.setupErr = NewSoftHSM(dir, testToken, testPIN)
	if token.setupErr == nil {
		os.Setenv("SOFTHSM2_CONF", token.hsm.Conf)
		if token.cert, _, token.setupErr = token.hsm.GenerateRSA(testKeyID, testLabel, "trustbroker test STS"); token.setupErr == nil {
			token.other, _, token.setupErr = token.hsm.GenerateRSA([]byte{0x0b}, "other", "another key")
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testConfig(t *testing.T) Config {
	t.Helper()
	if token.hsm == nil {
		testtools.Missing(t, fmt.Sprintf("no SoftHSM token: %v", token.setupErr))
	}
	if token.setupErr != nil {
		t.Fatal(token.setupErr)
	}
	return Config{Module: token.hsm.Module, TokenLabel: testToken, KeyLabel: testLabel, PIN: testPIN, Certificate: token.cert}
}

func open(t *testing.T, cfg Config) *Key {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := s.(*Key)
	t.Cleanup(func() { k.Close() })
	return k
}

func signAndCheck(t testing.TB, k crypto.Signer, msg string) {
	digest := sha256.Sum256([]byte(msg))
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Error(err)
		return
	}
	if err := rsa.VerifyPKCS1v15(token.cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("the token's signature does not verify with the certificate: %v", err)
	}
}

// TestTokenSignedInHSMVerifiesWithXmlsec1 signs an assertion-like element
// with the key in the token, found by label and by id, and has xmlsec1
// verify it with the certificate.
func TestTokenSignedInHSMVerifiesWithXmlsec1(t *testing.T) {
	xmlsec1 := testtools.Tool(t, "xmlsec1")
	byLabel := testConfig(t)
	byID := byLabel
	byID.KeyLabel, byID.KeyID = "", testKeyID
	for name, cfg := range map[string]Config{"label": byLabel, "id": byID} {
		t.Run(name, func(t *testing.T) {
			k := open(t, cfg)
			signer, err := xmlsec.NewSigner(k, []*x509.Certificate{token.cert}, xmlsec.RSASHA256, xmlsec.SHA256, xmlsec.AlgorithmPolicy{})
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			el := doc.CreateElement("saml:Assertion")
			el.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
			el.CreateAttr("ID", "_signed-in-the-token")
			el.CreateElement("saml:Issuer").SetText("https://sts.example/trust")
			sig, err := signer.Sign(el, "ID")
			if err != nil {
				t.Fatal(err)
			}
			el.InsertChildAt(1, sig)
			dir := t.TempDir()
			file, certFile := filepath.Join(dir, "token.xml"), filepath.Join(dir, "cert.pem")
			if err := doc.WriteToFile(file); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: token.cert.Raw}), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(xmlsec1, "--verify", "--pubkey-cert-pem", certFile, "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", file).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Errorf("xmlsec1 refused the signature: %v\n%s", err, out)
			}
		})
	}
}

// TestOpenFailuresSayWhatToFix: a wrong PIN, a missing key or token, and a
// key that does not match the certificate are each named, and no error
// carries the PIN.
func TestOpenFailuresSayWhatToFix(t *testing.T) {
	good := testConfig(t)
	wrongPIN := good
	wrongPIN.PIN = "0000-wrong-pin"
	noKey := good
	noKey.KeyLabel = "no-such-key"
	noToken := good
	noToken.TokenLabel = "no-such-token"
	mismatch := good
	mismatch.Certificate = token.other
	noModule := good
	noModule.Module = "/nonexistent/libpkcs11.so"
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"wrong PIN", wrongPIN, `token "trustbroker-test" of PKCS#11 module ` + good.Module + ` refused the PIN (CKR_PIN_INCORRECT)`},
		{"missing key", noKey, `no private key with label "no-such-key" in token "trustbroker-test"`},
		{"missing token", noToken, `no token labelled "no-such-token" in PKCS#11 module`},
		{"key and certificate differ", mismatch, `does not match the certificate CN=another key`},
		{"missing module", noModule, `/nonexistent/libpkcs11.so`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			for _, pin := range []string{good.PIN, wrongPIN.PIN} {
				if strings.Contains(err.Error(), pin) {
					t.Errorf("the error shows the PIN: %v", err)
				}
			}
		})
	}
}

// TestSessionLostAndReopened closes every session the process has with the
// token, as a restarted or disconnected HSM does (the login goes with
// them); the next signature opens the token again and succeeds.
func TestSessionLostAndReopened(t *testing.T) {
	k := open(t, testConfig(t))
	signAndCheck(t, k, "before")

	closeAllSessions(t)
	signAndCheck(t, k, "after the sessions were closed")
	if k.opened != 2 {
		t.Errorf("the token was opened %d times, want 2 (once more after losing the sessions)", k.opened)
	}
	signAndCheck(t, k, "and again")
}

// closeAllSessions closes every session the process has with the test
// token, as a restarted or disconnected HSM does; the login goes with them.
func closeAllSessions(t *testing.T) {
	t.Helper()
	tokens.Lock()
	defer tokens.Unlock()
	p := pkcs11.New(token.hsm.Module)
	defer p.Destroy()
	if err := p.Initialize(); err != pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		t.Fatalf("the module is not initialised by the open key: %v", err)
	}
	slot, err := findSlot(p, testToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CloseAllSessions(slot); err != nil {
		t.Fatal(err)
	}
}

// signConcurrently signs from n goroutines at once and returns their
// errors.
func signConcurrently(k crypto.Signer, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			digest := sha256.Sum256(fmt.Appendf(nil, "during the outage %d", i))
			_, errs[i] = k.Sign(rand.Reader, digest[:], crypto.SHA256)
		})
	}
	wg.Wait()
	return errs
}

// TestTokenAwayThenBack: the sessions are lost and the token is missing
// when the key opens it again. Signatures during the outage, many at
// once, fail at once with the reason, and do not try the token again
// before the backoff; once the token is back and the backoff over, signing
// works again, and closing the key (twice) releases it without a crash.
func TestTokenAwayThenBack(t *testing.T) {
	cfg := testConfig(t)
	k := open(t, cfg)
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	k.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	advance := func(d time.Duration) { clock.Lock(); clock.now = clock.now.Add(d); clock.Unlock() }
	setLabel := func(label string) { k.mu.Lock(); k.cfg.TokenLabel = label; k.mu.Unlock() }
	signAndCheck(t, k, "before")

	closeAllSessions(t)
	setLabel("token-gone-away")
	for i, err := range signConcurrently(k, 16) {
		if err == nil || !strings.Contains(err.Error(), `signing stopped: no token labelled "token-gone-away"`) {
			t.Errorf("signature %d during the outage: error %v, want one naming the missing token", i, err)
		}
	}
	if k.opened != 1 || k.wait != firstRetry {
		t.Errorf("after the failed reopen: opened %d times, backoff %s; want 1 and %s (one try for all signatures)", k.opened, k.wait, firstRetry)
	}

	setLabel(testToken)
	if err := signConcurrently(k, 1)[0]; err == nil {
		t.Error("a signature within the backoff tried the token again")
	}
	advance(firstRetry)
	for i, err := range signConcurrently(k, 16) {
		if err != nil {
			t.Errorf("signature %d after the token came back: %v", i, err)
		}
	}
	signAndCheck(t, k, "after the token came back")
	if k.opened != 2 {
		t.Errorf("the token was opened %d times, want 2", k.opened)
	}

	for range 2 {
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := k.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); !errors.Is(err, errKeyClosed) {
		t.Errorf("a signature with the closed key: error %v, want %v", err, errKeyClosed)
	}
}

// TestRefusedPINTriedOnce opens the key with a wrong PIN as every policy
// rebuild does: the token sees one login, flags the PIN count low, and the
// next opens answer from memory. The same PIN from a rewritten Secret is
// tried once more; the corrected PIN at once.
func TestRefusedPINTriedOnce(t *testing.T) {
	good := testConfig(t)
	good.PINVersion = "3"
	wrong := good
	wrong.PIN, wrong.PINVersion = "1234-another-wrong-pin", "1"
	attempts := func() int64 { return loginAttempts.Load() }
	base := attempts()
	for range 20 {
		if _, err := Open(wrong); err == nil || !strings.Contains(err.Error(), "refused the PIN (CKR_PIN_INCORRECT): check the PIN Secret") {
			t.Fatalf("error %v, want the token's refusal", err)
		}
	}
	if n := attempts() - base; n != 1 {
		t.Errorf("%d logins for 20 opens with the same wrong PIN, want 1", n)
	}
	if flags := tokenFlags(t); flags&pkcs11.CKF_USER_PIN_COUNT_LOW == 0 {
		t.Errorf("token flags %#x: the token counted no failed login", flags)
	}

	wrong.PINVersion = "2"
	if _, err := Open(wrong); err == nil || !strings.Contains(err.Error(), "few PIN tries left") {
		t.Errorf("error %v, want the refusal with the token's warning of few tries left", err)
	}
	if n := attempts() - base; n != 2 {
		t.Errorf("%d logins after the Secret was written again, want 2", n)
	}

	k := open(t, good)
	if n := attempts() - base; n != 3 {
		t.Errorf("%d logins after the PIN was corrected, want 3", n)
	}
	signAndCheck(t, k, "with the corrected PIN")
	if flags := tokenFlags(t); flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0 {
		t.Errorf("token flags %#x: the good login did not reset the count", flags)
	}
}

// TestChangedPINCheckedWithoutLogout changes the PIN to a wrong one while
// a key signs: the token refuses it (once, however often the key is
// opened with it), and the open key goes on signing, its login intact.
func TestChangedPINCheckedWithoutLogout(t *testing.T) {
	good := testConfig(t)
	k := open(t, good)
	wrong := good
	wrong.PIN, wrong.PINVersion = "5678-changed-wrong-pin", "7"
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				signAndCheck(t, k, fmt.Sprintf("while the PIN changes %d", i))
			}
		}
	})
	base := loginAttempts.Load()
	for range 5 {
		if _, err := Open(wrong); err == nil || !strings.Contains(err.Error(), "refused the PIN (CKR_PIN_INCORRECT)") {
			t.Errorf("error %v, want the token's refusal", err)
		}
	}
	close(stop)
	wg.Wait()
	if n := loginAttempts.Load() - base; n != 1 {
		t.Errorf("%d logins for 5 opens with the same wrong PIN, want 1", n)
	}
	if k.opened != 1 {
		t.Errorf("the key was opened %d times, want 1: its login was lost", k.opened)
	}
	signAndCheck(t, k, "after the wrong PIN")
	open(t, good) // the PIN the process logged in with is not checked again
	if n := loginAttempts.Load() - base; n != 1 {
		t.Errorf("%d logins after opening the key with the PIN in use, want 1", n)
	}
}

func tokenFlags(t *testing.T) uint {
	t.Helper()
	tokens.Lock()
	defer tokens.Unlock()
	p := pkcs11.New(token.hsm.Module)
	defer p.Destroy()
	if err := p.Initialize(); err == nil {
		defer p.Finalize()
	}
	slot, err := findSlot(p, testToken)
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.GetTokenInfo(slot)
	if err != nil {
		t.Fatal(err)
	}
	return info.Flags
}

// TestPINTriesLeft: the token's PIN counter flags decide whether the STS
// logs in at all.
func TestPINTriesLeft(t *testing.T) {
	k := &Key{cfg: Config{Module: "libtoken.so", TokenLabel: "sts"}}
	cases := []struct {
		name    string
		flags   uint
		low     bool
		wantErr string
	}{
		{"no flag", pkcs11.CKF_USER_PIN_INITIALIZED, false, ""},
		{"count low", pkcs11.CKF_USER_PIN_COUNT_LOW, true, ""},
		{"final try", pkcs11.CKF_USER_PIN_COUNT_LOW | pkcs11.CKF_USER_PIN_FINAL_TRY, true, "one user PIN try left before it locks the PIN (CKF_USER_PIN_FINAL_TRY), so the STS does not log in: check the PIN Secret"},
		{"locked", pkcs11.CKF_USER_PIN_LOCKED, true, "security officer must unlock it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			low, err := k.pinTries(tc.flags)
			if low != tc.low {
				t.Errorf("low %v, want %v", low, tc.low)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

// TestConcurrentSigning signs from many goroutines at once, as many
// requests do; every signature verifies.
func TestConcurrentSigning(t *testing.T) {
	k := open(t, testConfig(t))
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 10 {
				signAndCheck(t, k, fmt.Sprintf("request %d.%d", g, i))
			}
		})
	}
	wg.Wait()
}

// BenchmarkSign is one signature through the module, beside the same
// signature in Go with a key of the same size.
func BenchmarkSign(b *testing.B) {
	if token.hsm == nil || token.setupErr != nil {
		b.Skip("no SoftHSM token")
	}
	s, err := Open(Config{Module: token.hsm.Module, TokenLabel: testToken, KeyLabel: testLabel, PIN: testPIN, Certificate: token.cert})
	if err != nil {
		b.Fatal(err)
	}
	defer s.(*Key).Close()
	digest := sha256.Sum256([]byte("trustbroker"))
	for b.Loop() {
		if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
