package crds

import (
	"strings"
	"testing"
)

// TestAllowedRequestorsAndRenewalSchema: the API server accepts delegating
// requestors listed by user, role, subject and fingerprint (colons or not,
// any case) and a renewal block, and refuses a certificate entry with both
// or neither of subject and fingerprint, a fingerprint that is not 64 hex
// digits and a maxLifetime beyond 168h, saying what to change.
func TestAllowedRequestorsAndRenewalSchema(t *testing.T) {
	const fingerprint = "ab:CD:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"
	valid := validSTS + `  onBehalfOf:
    allowedTokenTypes: [UsernameToken]
    allowedRequestors:
      users: [portal]
      roles: [delegate]
      certificates:
      - subject: "CN=orders-service,O=Example"
      - sha256Fingerprint: "` + fingerprint + `"
      - sha256Fingerprint: "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
  renewal:
    allowAfterExpiry: true
    maxLifetime: 12h
`
	if out, ok := kubectl(t, valid, "apply", "--dry-run=server", "-n", "default", "-f", "-"); !ok {
		t.Fatalf("valid manifest refused:\n%s", out)
	}
	for _, tc := range []struct {
		name, spec, want string
	}{
		{"certificate entry with both", `  onBehalfOf:
    allowedRequestors:
      certificates: [{subject: "CN=a", sha256Fingerprint: "` + fingerprint + `"}]
`, "a certificate entry takes exactly one of subject or sha256Fingerprint"},
		{"certificate entry with neither", `  onBehalfOf:
    allowedRequestors:
      certificates: [{}]
`, "a certificate entry takes exactly one of subject or sha256Fingerprint"},
		{"short fingerprint", `  onBehalfOf:
    allowedRequestors:
      certificates: [{sha256Fingerprint: "ABCD"}]
`, "sha256Fingerprint"},
		{"maxLifetime too long", "  renewal: {maxLifetime: 200h}\n", "renewal.maxLifetime must be a duration such as 8h, greater than zero and at most 168h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := kubectl(t, validSTS+tc.spec, "apply", "--dry-run=server", "-n", "default", "-f", "-")
			if ok {
				t.Fatalf("accepted:\n%s", tc.spec)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("refusal does not say %q:\n%s", tc.want, out)
			}
		})
	}
}
