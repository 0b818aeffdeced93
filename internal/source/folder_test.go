package source

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// standaloneFolder copies config/samples/standalone into a temp dir and adds
// a signing key, as `make run` does.
func standaloneFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "config", "samples", "standalone")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".key.yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, e.Name(), string(data))
	}
	pair, err := devkeys.NewRSA("dev-sts", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "signing.key.yaml", string(pair.SecretYAML("dev-sts-signing")))
	return dir
}

// writeFile replaces a file atomically, as editors and kubectl-like tools do.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func newSource(t *testing.T, dir string) *FolderSource {
	t.Helper()
	f, err := NewFolder()
	if err != nil {
		t.Fatal(err)
	}
	return &FolderSource{Dir: dir, Folder: f, Builder: &Builder{}, Holder: &policy.Holder{}, Log: logr.Discard()}
}

func TestStandaloneSamplesLoadWithSchemaDefaults(t *testing.T) {
	s := newSource(t, standaloneFolder(t))
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	snap := s.Holder.Load()
	if snap.STS.Issuer != "http://127.0.0.1:8080/trust" || snap.STS.MaxClockSkew != 5*time.Minute {
		t.Errorf("STS = %+v", snap.STS)
	}
	if snap.STS.Signing.SignatureAlgorithm != "rsa-sha256" || snap.STS.Signing.DigestAlgorithm != "sha256" {
		t.Errorf("signing defaults = %s/%s", snap.STS.Signing.SignatureAlgorithm, snap.STS.Signing.DigestAlgorithm)
	}
	echo, ok := snap.RelyingPartyFor("https://localhost:9444/services/echo")
	if !ok || echo.TokenType != policy.SAML20 || echo.Prefix || !echo.AllowsKeyType(policy.Bearer) {
		t.Fatalf("echo-service = %+v, %v", echo, ok)
	}
	if echo.Attributes[1].Namespace != "http://schemas.xmlsoap.org/claims" {
		t.Errorf("attribute namespace not inherited from the STS: %+v", echo.Attributes[1])
	}
	if rp, ok := snap.RelyingPartyFor("urn:example:portal/sub"); !ok || rp.Name != "portal" || rp.TokenType != policy.SAML11 {
		t.Errorf("prefix match for the portal = %+v, %v", rp, ok)
	}
	if _, ok := snap.RelyingPartyFor("https://elsewhere.example.com"); ok {
		t.Error("an unknown AppliesTo matched a relying party")
	}
	if _, err := snap.Users.Authenticate(context.Background(), "alice", "alice-password"); err != nil {
		t.Errorf("alice cannot log in: %v", err)
	}
}

func TestFolderRefusesWhatTheAPIServerRefuses(t *testing.T) {
	cases := map[string]struct{ manifest, want string }{
		"enum": {
			"apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: x}\nspec: {stsRef: {name: dev-sts}, endpoint: 'urn:x:y', tokenType: JWT}\n",
			`spec.tokenType: Unsupported value: "JWT"`,
		},
		"CEL rule": {
			"apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: x}\nspec: {stsRef: {name: dev-sts}, endpoint: 'https://a.example/?q', match: Prefix}\n",
			"match: Prefix needs an endpoint without a query string",
		},
		"unknown field": {
			"apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: x}\nspec: {stsRef: {name: dev-sts}, endpoint: 'urn:x:y', tokenTyp: SAML11}\n",
			"spec.tokenTyp: Invalid value: null: unknown field",
		},
		"unknown kind": {
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
			"not a kind the STS reads",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := standaloneFolder(t)
			writeFile(t, dir, "bad.yaml", tc.manifest)
			s := newSource(t, dir)
			err := s.Load()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml") {
				t.Fatalf("err = %v, want it to name bad.yaml and contain %q", err, tc.want)
			}
		})
	}
}

// TestBadRelyingPartyIsLeftOut: a relying party whose certificate cannot be
// read is not served, not kept in its last good version; the others are.
func TestBadRelyingPartyIsLeftOut(t *testing.T) {
	dir := standaloneFolder(t)
	s := newSource(t, dir)
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	// The portal now wants encryption for a certificate that is not there.
	rps, _ := os.ReadFile(filepath.Join(dir, "relyingparties.yaml"))
	broken := strings.Replace(string(rps), "  tokenType: SAML11\n", "  tokenType: SAML11\n  encryption: {enabled: true, certificate: {secretRef: {name: missing}}}\n", 1)
	writeFile(t, dir, "relyingparties.yaml", broken)
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	snap := s.Holder.Load()
	if snap.Generation != 2 {
		t.Errorf("generation = %d, want 2", snap.Generation)
	}
	if rp, ok := snap.RelyingPartyFor("urn:example:portal"); ok {
		t.Fatalf("portal = %+v; want it left out", rp)
	}
	if _, ok := snap.RelyingPartyFor("https://localhost:9444/services/echo"); !ok {
		t.Fatal("the echo service, which is fine, is no longer served")
	}
}

// TestBrokenSigningKeyKeepsItsLastGoodVersion: the signing key is the one
// part that keeps its last good version; the rest of the policy moves on.
func TestBrokenSigningKeyKeepsItsLastGoodVersion(t *testing.T) {
	dir := standaloneFolder(t)
	s := newSource(t, dir)
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	before := s.Holder.Load()
	writeFile(t, dir, "signing.key.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: dev-sts-signing}\nstringData: {tls.crt: nonsense, tls.key: nonsense}\n")
	writeFile(t, dir, "extra.yaml", "apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: extra}\nspec: {stsRef: {name: dev-sts}, endpoint: 'urn:example:extra'}\n")
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	after := s.Holder.Load()
	if after == before || after.STS.Signing.Signer != before.STS.Signing.Signer || !after.STS.Signing.Chain[0].Equal(before.STS.Signing.Chain[0]) {
		t.Fatal("the broken signing key was not replaced by its last good version")
	}
	if _, ok := after.RelyingPartyFor("urn:example:extra"); !ok {
		t.Fatal("the rest of the policy did not move on")
	}

	// A fresh instance has no last good key to fall back on.
	if err := newSource(t, dir).Load(); err == nil || !strings.Contains(err.Error(), "no PEM CERTIFICATE block") {
		t.Fatalf("err = %v, want the broken signing key named", err)
	}
}

func TestBrokenFolderKeepsThePolicy(t *testing.T) {
	dir := standaloneFolder(t)
	s := newSource(t, dir)
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	before := s.Holder.Load()
	writeFile(t, dir, "users.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: dev-users}\nstringData: [not, a, map]\n")
	if err := s.Load(); err == nil || !strings.Contains(err.Error(), "users.yaml") {
		t.Fatalf("err = %v, want the unreadable file named", err)
	}
	if s.Holder.Load() != before {
		t.Fatal("an unreadable folder replaced the policy")
	}
}

func TestWatchPicksUpAtomicRenames(t *testing.T) {
	dir := standaloneFolder(t)
	s := newSource(t, dir)
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx)

	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		// Written again now and then: the watcher may start after the
		// first write, and must see a later one.
		if i%25 == 0 {
			writeFile(t, dir, "extra.yaml", "apiVersion: sts.trustbroker.io/v1alpha1\nkind: RelyingParty\nmetadata: {name: extra}\nspec: {stsRef: {name: dev-sts}, endpoint: 'urn:example:extra'}\n")
		}
		if _, ok := s.Holder.Load().RelyingPartyFor("urn:example:extra"); ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the new relying party was not loaded")
}
