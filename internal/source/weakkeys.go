package source

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/xmlsec"
)

// msgWeakCertLeftOut is the log message of a Problem about a weak key.
const msgWeakCertLeftOut = "certificate left out: tokens signed with it are refused"

// withoutWeakKeys leaves out of a trusted issuer the RSA certificates
// under xmlsec.MinRSABits, which the signature verifier refuses anyway:
// keeping them out of the snapshot makes the refusal visible in the log
// when the policy loads, not only per request. An issuer left with no
// certificate is an error, so it is not served.
func withoutWeakKeys(ti *policy.TrustedIssuer) (*policy.TrustedIssuer, []Problem, error) {
	var kept []*x509.Certificate
	var problems []Problem
	for i, c := range ti.Certificates {
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < xmlsec.MinRSABits {
			problems = append(problems, Problem{Kind: "TrustedIssuer", NamespacedName: Key(ti.Namespace, ti.Name), Msg: msgWeakCertLeftOut,
				Err: fmt.Errorf("certificate %d of %d (subject %q, SHA-256 %x) has a %d-bit RSA key, at least %d bits are required: ask the issuer for a stronger key and put its certificate in spec.certificates",
					i+1, len(ti.Certificates), c.Subject.String(), sha256.Sum256(c.Raw), k.N.BitLen(), xmlsec.MinRSABits)})
			continue
		}
		kept = append(kept, c)
	}
	if len(problems) == 0 {
		return ti, nil, nil
	}
	if len(kept) == 0 {
		return nil, problems, fmt.Errorf("no certificate of at least %d bits is left to verify tokens of issuer %s: put the issuer's current certificate in spec.certificates", xmlsec.MinRSABits, ti.Issuer)
	}
	out := *ti
	out.Certificates = kept
	return &out, problems, nil
}
