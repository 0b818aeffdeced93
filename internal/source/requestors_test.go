package source

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// TestAllowedRequestorsAndRenewal: the delegating requestors and the
// renewal bounds reach the policy, fingerprints as lower-case hex without
// colons; a certificate entry that is not a DN, or that names both or
// neither, is refused; renewal defaults to 8h, no renewal after expiry.
func TestAllowedRequestorsAndRenewal(t *testing.T) {
	const fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	load := func(t *testing.T, edit func(string) string) (*policy.Snapshot, error) {
		t.Helper()
		dir := standaloneFolder(t)
		raw, err := os.ReadFile(filepath.Join(dir, "sts.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "sts.yaml", edit(string(raw)))
		s := newSource(t, dir)
		err = s.Load()
		return s.Holder.Load(), err
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("sts.yaml has no %q", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}

	snap, err := load(t, replace("      users: [portal]\n", "      users: [portal]\n      roles: [delegate]\n      certificates:\n"+
		"      - subject: 'CN=orders-service, O=Example'\n      - sha256Fingerprint: '"+fp+"'\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := snap.STS.OnBehalfOf.AllowedRequestors
	want := []policy.RequestorCertificate{{Subject: "CN=orders-service, O=Example"}, {SHA256: strings.ToLower(strings.ReplaceAll(fp, ":", ""))}}
	if !slices.Equal(got.Users, []string{"portal"}) || !slices.Equal(got.Roles, []string{"delegate"}) || !slices.Equal(got.Certificates, want) {
		t.Errorf("allowedRequestors = %+v", got)
	}
	if r := snap.STS.Renewal; r != (policy.Renewal{MaxLifetime: 8 * time.Hour}) {
		t.Errorf("renewal = %+v, want the sample's 8h, not after expiry", r)
	}

	snap, err = load(t, replace("  renewal:\n    allowAfterExpiry: false\n    maxLifetime: 8h\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	if r := snap.STS.Renewal; r != (policy.Renewal{MaxLifetime: policy.DefaultRenewalMaxLifetime}) {
		t.Errorf("renewal without a block = %+v, want the 8h default", r)
	}
	snap, err = load(t, replace("    allowAfterExpiry: false\n    maxLifetime: 8h\n", "    allowAfterExpiry: true\n    maxLifetime: 2h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := snap.STS.Renewal; r != (policy.Renewal{AllowAfterExpiry: true, MaxLifetime: 2 * time.Hour}) {
		t.Errorf("renewal = %+v, want after expiry within 2h", r)
	}

	for name, entry := range map[string]string{
		"not a DN":     "      - subject: 'orders service'\n",
		"both":         "      - {subject: 'CN=x', sha256Fingerprint: '" + fp + "'}\n",
		"short digest": "      - sha256Fingerprint: 'ABCD'\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(t, replace("      users: [portal]\n", "      users: [portal]\n      certificates:\n"+entry)); err == nil {
				t.Error("accepted")
			}
		})
	}
}
