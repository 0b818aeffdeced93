package controllers

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/trustbroker/trustbroker/internal/pki"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// defaultCertificateKeys are tried in order when a certificate reference
// names no key.
var defaultCertificateKeys = []string{"ca.crt", "tls.crt"}

// sourceError is a certificate source that cannot be read: the reason and a
// message that says what to change.
type sourceError struct {
	Reason  string
	Message string
}

func (e *sourceError) Error() string { return e.Message }

// sourceVersion is the resourceVersion of the Secret or ConfigMap a
// certificate source names, from the metadata cache; "" when it names none
// or the object does not exist.
func sourceVersion(ctx context.Context, c client.Reader, ns string, src *stsv1alpha1.CertificateSource) (string, error) {
	meta := &metav1.PartialObjectMetadata{}
	var name string
	switch {
	case src == nil:
		return "", nil
	case src.SecretRef != nil:
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		name = src.SecretRef.Name
	case src.ConfigMapRef != nil:
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		name = src.ConfigMapRef.Name
	default:
		return "", nil
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, meta); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	return meta.ResourceVersion, nil
}

// readCertificates reads the certificates of a source in namespace ns. field
// is the source's path in the spec, for messages. A *sourceError means the
// user must change something; other errors are the API's and are retried.
func readCertificates(ctx context.Context, c client.Reader, ns string, src *stsv1alpha1.CertificateSource, field string) ([]*x509.Certificate, error) {
	var data []byte
	var where string
	switch {
	case src == nil:
		return nil, &sourceError{stsv1alpha1.ReasonCertificateInvalid, fmt.Sprintf("%s is not set: give secretRef, configMapRef or pem", field)}
	case src.PEM != "":
		data, where = []byte(src.PEM), field+".pem"
	case src.SecretRef != nil:
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: src.SecretRef.Name}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &sourceError{ReasonSecretNotFound, fmt.Sprintf("Secret %s not found in namespace %s: create it or fix %s.secretRef.name", src.SecretRef.Name, ns, field)}
			}
			return nil, fmt.Errorf("reading Secret %s/%s: %w", ns, src.SecretRef.Name, err)
		}
		key, v, err := pickKey(s.Data, src.SecretRef.Key, "Secret", src.SecretRef.Name, field+".secretRef.key")
		if err != nil {
			return nil, err
		}
		data, where = v, fmt.Sprintf("key %s of Secret %s", key, src.SecretRef.Name)
	case src.ConfigMapRef != nil:
		var cm corev1.ConfigMap
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: src.ConfigMapRef.Name}, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &sourceError{stsv1alpha1.ReasonCertificateInvalid, fmt.Sprintf("ConfigMap %s not found in namespace %s: create it or fix %s.configMapRef.name", src.ConfigMapRef.Name, ns, field)}
			}
			return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, src.ConfigMapRef.Name, err)
		}
		byKey := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
		for k, v := range cm.BinaryData {
			byKey[k] = v
		}
		for k, v := range cm.Data {
			byKey[k] = []byte(v)
		}
		key, v, err := pickKey(byKey, src.ConfigMapRef.Key, "ConfigMap", src.ConfigMapRef.Name, field+".configMapRef.key")
		if err != nil {
			return nil, err
		}
		data, where = v, fmt.Sprintf("key %s of ConfigMap %s", key, src.ConfigMapRef.Name)
	default:
		return nil, &sourceError{stsv1alpha1.ReasonCertificateInvalid, fmt.Sprintf("%s is empty: give secretRef, configMapRef or pem", field)}
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return nil, &sourceError{stsv1alpha1.ReasonCertificateInvalid, fmt.Sprintf("%s cannot be read as PEM certificates (%v): put one or more -----BEGIN CERTIFICATE----- blocks there", where, err)}
	}
	return certs, nil
}

// pickKey returns data[key], or with no key given the first default key present.
func pickKey(data map[string][]byte, key, kind, name, keyField string) (string, []byte, error) {
	candidates := defaultCertificateKeys
	if key != "" {
		candidates = []string{key}
	}
	for _, k := range candidates {
		if v, ok := data[k]; ok {
			return k, v, nil
		}
	}
	return "", nil, &sourceError{stsv1alpha1.ReasonCertificateInvalid, fmt.Sprintf("%s %s has no key %s: add it or set %s", kind, name, joinOr(candidates), keyField)}
}

// joinOr lists keys as "a or b".
func joinOr(keys []string) string {
	switch len(keys) {
	case 0:
		return ""
	case 1:
		return keys[0]
	}
	out := keys[0]
	for _, k := range keys[1 : len(keys)-1] {
		out += ", " + k
	}
	return out + " or " + keys[len(keys)-1]
}

// certificateSourceFix says how to replace the certificates of a source, for
// messages about expired certificates.
func certificateSourceFix(src *stsv1alpha1.CertificateSource, field string) string {
	switch {
	case src == nil:
		return "set " + field
	case src.SecretRef != nil:
		return fmt.Sprintf("put a renewed certificate in Secret %s", src.SecretRef.Name)
	case src.ConfigMapRef != nil:
		return fmt.Sprintf("put a renewed certificate in ConfigMap %s", src.ConfigMapRef.Name)
	default:
		return fmt.Sprintf("put a renewed certificate in %s.pem", field)
	}
}
