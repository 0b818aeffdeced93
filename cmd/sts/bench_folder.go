package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/source"
)

// benchFolder writes the manifests folder's objects into a new folder,
// with caller's certificate registered with the SecurityTokenService
// (X.509 authentication on, no role requirement), so that signed requests
// can be measured on any folder. edit, when not nil, changes the objects
// first (another signing key, say).
func benchFolder(src string, caller *devkeys.Pair, edit func(*source.Objects) error) (string, error) {
	folder, err := source.NewFolder()
	if err != nil {
		return "", err
	}
	objs, err := folder.Read(src)
	if err != nil {
		return "", err
	}
	if len(objs.SecurityTokenServices) != 1 {
		return "", fmt.Errorf("%s holds %d SecurityTokenServices; bench needs one", src, len(objs.SecurityTokenServices))
	}
	sts := objs.SecurityTokenServices[0]
	sts.Spec.Authentication.AllowedRoles = nil
	sts.Spec.Authentication.X509 = &stsv1alpha1.X509Spec{Enabled: true,
		ClientCertificates: &stsv1alpha1.CertificateSource{PEM: string(caller.CertPEM)}}
	if edit != nil {
		if err := edit(objs); err != nil {
			return "", err
		}
	}

	dir, err := os.MkdirTemp("", "sts-bench-")
	if err != nil {
		return "", err
	}
	write := func(kind string, gv string, obj interface {
		GetName() string
		GetObjectKind() schema.ObjectKind
	}) error {
		obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(gv, kind))
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, strings.ToLower(kind)+"-"+obj.GetName()+".yaml"), data, 0o600)
	}
	gv := stsv1alpha1.GroupVersion.String()
	var errs []error
	errs = append(errs, write("SecurityTokenService", gv, sts))
	for _, o := range objs.RelyingParties {
		errs = append(errs, write("RelyingParty", gv, o))
	}
	for _, o := range objs.TrustedIssuers {
		errs = append(errs, write("TrustedIssuer", gv, o))
	}
	for _, o := range objs.Secrets {
		errs = append(errs, write("Secret", "v1", o))
	}
	for _, o := range objs.ConfigMaps {
		errs = append(errs, write("ConfigMap", "v1", o))
	}
	if err := errors.Join(errs...); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// withECDSAKey has the SecurityTokenService sign with a fresh P-256 key
// (ecdsa-sha256), returned for the bare signature beside it.
func withECDSAKey(key **devkeys.Pair) func(*source.Objects) error {
	return func(objs *source.Objects) error {
		pair, err := devkeys.NewECDSA("bench-ecdsa", time.Now(), 24*time.Hour)
		if err != nil {
			return err
		}
		*key = pair
		sts := objs.SecurityTokenServices[0]
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bench-ecdsa-signing", Namespace: sts.Namespace}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: pair.CertPEM, corev1.TLSPrivateKeyKey: pair.KeyPEM}}
		objs.Secrets[source.Key(secret.Namespace, secret.Name)] = secret
		sts.Spec.Signing.SecretRef = &stsv1alpha1.SecretKeySelector{Name: secret.Name}
		sts.Spec.Signing.SignatureAlgorithm = "ecdsa-sha256"
		return nil
	}
}
