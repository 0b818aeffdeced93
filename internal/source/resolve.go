package source

import (
	"crypto/x509"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// resolver reads the Secrets and ConfigMaps that objects of one namespace
// refer to.
type resolver struct {
	objs      *Objects
	namespace string
	// parse reads PEM certificates (remembering them across builds).
	parse func([]byte) ([]*x509.Certificate, error)
}

func (r resolver) secret(name string) (*corev1.Secret, error) {
	s, ok := r.objs.Secrets[Key(r.namespace, name)]
	if !ok {
		return nil, fmt.Errorf("Secret %s/%s not found", r.namespace, name)
	}
	return s, nil
}

// secretKey returns one key of a Secret; ref.Key, else defaultKey.
func (r resolver) secretKey(ref stsv1alpha1.SecretKeySelector, defaultKey string) ([]byte, error) {
	s, err := r.secret(ref.Name)
	if err != nil {
		return nil, err
	}
	k := stringOr(ref.Key, defaultKey)
	v, ok := s.Data[k]
	if !ok {
		return nil, fmt.Errorf("Secret %s/%s has no key %q", r.namespace, ref.Name, k)
	}
	return v, nil
}

// keyPair returns tls.crt (or ref.Key) and tls.key of a kubernetes.io/tls Secret.
func (r resolver) keyPair(ref stsv1alpha1.SecretKeySelector) (certPEM, keyPEM []byte, err error) {
	if certPEM, err = r.secretKey(ref, "tls.crt"); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = r.secretKey(stsv1alpha1.SecretKeySelector{Name: ref.Name}, "tls.key"); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// certificates reads a certificate source: its key, else "ca.crt", then "tls.crt".
func (r resolver) certificates(src *stsv1alpha1.CertificateSource) ([]*x509.Certificate, error) {
	var data []byte
	switch {
	case src == nil:
		return nil, errors.New("no certificate given")
	case src.PEM != "":
		data = []byte(src.PEM)
	case src.SecretRef != nil:
		s, err := r.secret(src.SecretRef.Name)
		if err != nil {
			return nil, err
		}
		if data, err = pickKey(s.Data, src.SecretRef.Key, "Secret", src.SecretRef.Name); err != nil {
			return nil, err
		}
	case src.ConfigMapRef != nil:
		c, ok := r.objs.ConfigMaps[Key(r.namespace, src.ConfigMapRef.Name)]
		if !ok {
			return nil, fmt.Errorf("ConfigMap %s/%s not found", r.namespace, src.ConfigMapRef.Name)
		}
		byKey := map[string][]byte{}
		for k, v := range c.Data {
			byKey[k] = []byte(v)
		}
		var err error
		if data, err = pickKey(byKey, src.ConfigMapRef.Key, "ConfigMap", src.ConfigMapRef.Name); err != nil {
			return nil, err
		}
	}
	return r.parse(data)
}

// pickKey returns data[key], or with no key given data["ca.crt"], then data["tls.crt"].
func pickKey(data map[string][]byte, key, kind, name string) ([]byte, error) {
	candidates := []string{"ca.crt", "tls.crt"}
	if key != "" {
		candidates = []string{key}
	}
	for _, k := range candidates {
		if v, ok := data[k]; ok {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%s %s has none of the keys %v", kind, name, candidates)
}
