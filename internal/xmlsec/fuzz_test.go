package xmlsec

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// FuzzVerify feeds arbitrary documents to Verify. It must never panic,
// must fail only with a *soap.Fault, and must never accept a document that
// the trusted key did not sign.
func FuzzVerify(f *testing.F) {
	k := newTestKey(f, "signer-rsa2048", "rsa2048")
	ec := newTestKey(f, "signer-p256", "p256")
	trusted := []*x509.Certificate{k.Cert, ec.Cert}
	for _, s := range []*Signer{
		mustSigner(f, k, "", "", AlgorithmPolicy{}),
		mustSigner(f, ec, ECDSASHA256, SHA256, AlgorithmPolicy{}),
	} {
		el := signSample(f, s)
		doc := etree.NewDocument()
		doc.SetRoot(el)
		b, err := doc.WriteToBytes()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(sampleDoc))
	f.Add([]byte(`<Doc ID="_1"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature></Doc>`))

	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		doc.ReadSettings.MaxDepth = 64
		if err := doc.ReadFromBytes(data); err != nil || doc.Root() == nil {
			return
		}
		got, err := Verify(doc.Root(), "ID", trusted, AlgorithmPolicy{})
		if err != nil {
			var fault *soap.Fault
			if !errors.As(err, &fault) {
				t.Fatalf("Verify returned a non-fault error: %v", err)
			}
			return
		}
		for _, c := range got.ChildElements() {
			if c.Tag == "Signature" {
				t.Fatal("verified element still carries its signature")
			}
		}
	})
}
