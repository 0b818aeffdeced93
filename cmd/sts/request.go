package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/pki"
)

// request asks an STS for a token and writes the token to out.
func request(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("request", flag.ExitOnError)
	var r client.Request
	fs.StringVar(&r.Endpoint, "endpoint", "http://127.0.0.1:8080/sts", "the STS endpoint")
	fs.StringVar(&r.Username, "username", "", "user name")
	fs.StringVar(&r.Password, "password", "", "password")
	fs.StringVar(&r.AppliesTo, "applies-to", "", "the relying party's address (AppliesTo)")
	fs.StringVar(&r.TokenType, "token-type", "", "saml2 or saml1; empty = the relying party's default")
	fs.StringVar(&r.SOAP, "soap", "1.2", "SOAP version: 1.1 or 1.2")
	fs.StringVar(&r.Trust, "trust", "1.3", "WS-Trust version: 1.3 or 2005")
	fs.BoolVar(&r.Digest, "digest", false, "send a PasswordDigest instead of the password")
	fs.StringVar(&r.KeyType, "key-type", "", "Bearer (default), SymmetricKey, PublicKey, or none")
	certFile := fs.String("cert", "", "sign the request with this PEM certificate (X.509 authentication; with --key)")
	keyFile := fs.String("key", "", "the certificate's PEM private key")
	caFile := fs.String("ca", "", "PEM CA certificates that verify an https endpoint (default: the system's)")
	_ = fs.Parse(args)
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("--cert and --key go together")
	}
	if *certFile != "" {
		certPEM, err := os.ReadFile(*certFile)
		if err != nil {
			return err
		}
		keyPEM, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		key, chain, err := pki.ParseKeyPair(certPEM, keyPEM)
		if err != nil {
			return err
		}
		r.SigningKey, r.SigningCert = key, chain[0]
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if *caFile != "" {
		data, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		cas, err := pki.ParseCertificates(data)
		if err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		for _, c := range cas {
			pool.AddCert(c)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	r.Now = time.Now()
	_, body, err := r.Do(hc)
	if err != nil {
		return err
	}
	token, err := client.Token(body)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, token)
	return err
}

func devKey(args []string) error {
	fs := flag.NewFlagSet("dev-key", flag.ExitOnError)
	out := fs.String("out", "", "file to write the kubernetes.io/tls Secret manifest to; kept when it exists")
	name := fs.String("name", "", "name of the Secret")
	certOut := fs.String("cert-out", "", "also write the certificate as PEM here (to verify tokens with)")
	_ = fs.Parse(args)
	if *out == "" || *name == "" {
		return errors.New("--out and --name are required")
	}
	certPEM, err := existingCertificate(*out)
	if err != nil {
		return err
	}
	if certPEM == nil {
		pair, err := devkeys.NewRSA(*name, time.Now(), 365*24*time.Hour)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, pair.SecretYAML(*name), 0o600); err != nil {
			return err
		}
		certPEM = pair.CertPEM
	}
	if *certOut == "" {
		return nil
	}
	return os.WriteFile(*certOut, certPEM, 0o644)
}

// existingCertificate is tls.crt of a Secret manifest written earlier, or
// nil when there is none yet.
func existingCertificate(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var secret struct {
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal(data, &secret); err != nil || secret.StringData["tls.crt"] == "" {
		return nil, fmt.Errorf("%s is not a Secret manifest with stringData tls.crt: remove it to make a new key", path)
	}
	return []byte(secret.StringData["tls.crt"]), nil
}
