package crds

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// TestSamplesApply applies every manifest under config/samples (the cluster
// example and the standalone folder) with kubectl, as a user would.
func TestSamplesApply(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "config", "samples"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") && d.Name() != "kustomization.yaml" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no samples found under config/samples")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ns := newNamespace(t, "samples-"+strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(filepath.Base(f))))
			if out, ok := kubectl(t, "", "apply", "-n", ns, "-f", f); !ok {
				t.Fatalf("kubectl apply -f %s failed:\n%s", f, out)
			}
		})
	}
}

// TestSampleDefaults applies the cluster example with kustomize and checks
// that the schema defaults reach the stored objects and that `kubectl get`
// shows the printer columns.
func TestSampleDefaults(t *testing.T) {
	ns := newNamespace(t, "sample-defaults")
	if out, ok := kubectl(t, "", "apply", "-n", ns, "-k", filepath.Join(repoRoot, "config", "samples")); !ok {
		t.Fatalf("kubectl apply -k config/samples failed:\n%s", out)
	}
	ctx := context.Background()

	var rp stsv1alpha1.RelyingParty
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "intranet-portal"}, &rp); err != nil {
		t.Fatal(err)
	}
	if rp.Spec.Match != stsv1alpha1.MatchExact {
		t.Errorf("match defaulted to %q, want Exact", rp.Spec.Match)
	}

	var ti stsv1alpha1.TrustedIssuer
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "partner-idp"}, &ti); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ti.Spec.AllowedUsages, stsv1alpha1.UsageValidate) {
		t.Errorf("allowedUsages = %v, want Validate among them", ti.Spec.AllowedUsages)
	}

	var sts stsv1alpha1.SecurityTokenService
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "example-sts"}, &sts); err != nil {
		t.Fatal(err)
	}
	if got := sts.Spec.ResponseSecurity.ReferenceType; got != "DirectReference" {
		t.Errorf("responseSecurity.referenceType defaulted to %q, want DirectReference", got)
	}

	out, ok := kubectl(t, "", "get", "rp", "-n", ns)
	if !ok {
		t.Fatalf("kubectl get rp failed:\n%s", out)
	}
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	want := []string{"NAME", "READY", "STS", "ENDPOINT", "TOKEN", "TYPE", "CERT", "EXPIRY", "AGE"}
	if !slices.Equal(header, want) {
		t.Errorf("kubectl get rp columns = %v, want %v", header, want)
	}
	if !strings.Contains(out, "urn:example:intranet-portal") || !strings.Contains(out, "SAML11") {
		t.Errorf("kubectl get rp does not show the endpoint and token type:\n%s", out)
	}
	if out, ok := kubectl(t, "", "get", "trustbroker", "-n", ns); !ok || !strings.Contains(out, "partner-idp") || !strings.Contains(out, "example-sts") {
		t.Errorf("kubectl get trustbroker (the category) does not list the three kinds:\n%s", out)
	}
}

// TestExplain checks that kubectl explain prints the field documentation.
func TestExplain(t *testing.T) {
	out, ok := kubectl(t, "", "explain", "relyingparty.spec.encryption")
	if !ok {
		t.Fatalf("kubectl explain failed:\n%s", out)
	}
	for _, want := range []string{"Encryption encrypts issued tokens", "dataAlgorithm", "aes256-gcm", "keyTransport", "allowInsecureKeyTransport"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain relyingparty.spec.encryption lacks %q:\n%s", want, out)
		}
	}
}
