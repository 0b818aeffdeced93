package issuer

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/wssec"
	"github.com/trustbroker/trustbroker/internal/wstrust"
)

// renewFixture is an STS with a bearer and a holder-of-key relying party
// and a cancellation store, and issues and renews tokens.
type renewFixture struct {
	t    *testing.T
	is   *Issuer
	snap *policy.Snapshot
}

func newRenewFixture(t *testing.T) *renewFixture {
	t.Helper()
	hok := &policy.RelyingParty{
		Name: "hok", Endpoint: "urn:test:hok", Audiences: []string{"urn:test:hok"}, TokenType: policy.SAML20,
		AllowedKeyTypes: []policy.KeyType{policy.PublicKey}, TokenLifetime: time.Hour,
	}
	snap := snapshot(t, testRelyingParty())
	snap.RelyingParties = append(snap.RelyingParties, hok)
	// A signing certificate that outlives every renewal tried here.
	pair, err := devkeys.NewRSA("issuer-test", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	snap.STS.Signing.Signer, snap.STS.Signing.Chain = pair.Key, []*x509.Certificate{pair.Cert}
	snap.STS.TokenLifetime, snap.STS.MaxClockSkew = time.Hour, time.Minute
	snap.STS.OnBehalfOf.AllowedRequestors = policy.Requestors{Users: []string{"frontend"}}
	return &renewFixture{t: t, is: &Issuer{}, snap: snap}
}

// issue gets a token for who, read back from its XML as a client sends it.
func (f *renewFixture) issue(who Principal, r *wstrust.RST) *etree.Element {
	f.t.Helper()
	rstr, err := f.is.Handle(f.snap, Request{Who: who, RST: r, Now: now})
	if err != nil {
		f.t.Fatal(err)
	}
	return reread(f.t, rstr.Token)
}

func reread(t *testing.T, el *etree.Element) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	back := etree.NewDocument()
	if err := back.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return back.Root()
}

var store = wssec.NewMemoryReplayStore(1000, func() time.Time { return now })

// renew asks who to renew token at the given time.
func (f *renewFixture) renew(who Principal, token *etree.Element, renewing *wstrust.Renewing, at time.Time) (*saml.Assertion, *etree.Element, error) {
	f.t.Helper()
	target := etree.NewElement("wst:RenewTarget")
	target.AddChild(token.Copy())
	r := &wstrust.RST{Version: wstrust.V13, RequestType: wstrust.RequestRenew, RenewTarget: target, Renewing: renewing}
	rstr, err := f.is.Handle(f.snap, Request{Who: who, RST: r, Store: store, Now: at})
	if err != nil {
		return nil, nil, err
	}
	a, err := saml.Parse(rstr.Token)
	if err != nil {
		f.t.Fatal(err)
	}
	return a, reread(f.t, rstr.Token), nil
}

func expectRenewFault(t *testing.T, err error, code soap.FaultCode, inReason string) {
	t.Helper()
	f := soap.AsFault(err)
	if err == nil || f.Code != code || !strings.Contains(f.Reason, inReason) {
		t.Fatalf("got %v, want %s naming %q", err, code.Local, inReason)
	}
}

// TestRenewOnlyBySubjectOrAllowedRequestor: alice's token (its NameID her
// mapped e-mail address) is renewed for alice and for an allowed
// requestor; bob, who holds the token too, is refused and the log names
// him.
func TestRenewOnlyBySubjectOrAllowedRequestor(t *testing.T) {
	f := newRenewFixture(t)
	token := f.issue(alice, rst(nil))
	bob := Principal{User: &policy.User{Name: "bob", Roles: []string{"admin"}, Attributes: map[string][]string{"mail": {"bob@example.com"}}}, Method: saml.AuthnPassword}
	frontend := Principal{User: &policy.User{Name: "frontend"}, Method: saml.AuthnPassword}

	_, _, err := f.renew(bob, token, nil, now.Add(time.Minute))
	expectRenewFault(t, err, soap.UnableToRenew, "Only the token's subject")
	if c := soap.AsFault(err).Cause; c == nil || !strings.Contains(c.Error(), `"bob"`) {
		t.Errorf("the log line does not name the requestor: %v", c)
	}
	for _, who := range []Principal{alice, frontend} {
		a, _, err := f.renew(who, token, nil, now.Add(time.Minute))
		if err != nil {
			t.Fatalf("%s: %v", who.User.Name, err)
		}
		if a.Subject.NameID != "alice@example.com" {
			t.Errorf("%s: renewed subject %q", who.User.Name, a.Subject.NameID)
		}
	}
}

// TestRenewAfterExpiry: an expired token is not renewed by default; with
// allowAfterExpiry it is, when the request says Renewing OK="true", until
// maxLifetime from its first issue.
func TestRenewAfterExpiry(t *testing.T) {
	f := newRenewFixture(t)
	token := f.issue(alice, rst(nil)) // valid for an hour
	ok := &wstrust.Renewing{Allow: true, OK: true}
	_, _, err := f.renew(alice, token, ok, now.Add(2*time.Hour))
	expectRenewFault(t, err, soap.UnableToRenew, "renews only tokens that are still valid")

	f.snap.STS.Renewal = policy.Renewal{AllowAfterExpiry: true, MaxLifetime: 8 * time.Hour}
	_, _, err = f.renew(alice, token, nil, now.Add(2*time.Hour))
	expectRenewFault(t, err, soap.RenewNeeded, `OK="true"`)
	a, _, err := f.renew(alice, token, ok, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !a.NotBefore.Equal(now.Add(2*time.Hour)) || !a.NotOnOrAfter.Equal(now.Add(3*time.Hour)) {
		t.Errorf("renewed for %v..%v, want a fresh hour", a.NotBefore, a.NotOnOrAfter)
	}
	_, _, err = f.renew(alice, token, ok, now.Add(8*time.Hour))
	expectRenewFault(t, err, soap.UnableToRenew, "first issued more than 8h0m0s ago")
}

// TestRenewWithinMaxLifetime: renewing again and again does not restart the
// clock: the renewed token keeps the first IssueInstant, its end is cut at
// maxLifetime, and after that it is refused.
func TestRenewWithinMaxLifetime(t *testing.T) {
	f := newRenewFixture(t)
	f.snap.STS.Renewal = policy.Renewal{MaxLifetime: 2 * time.Hour}
	token := f.issue(alice, rst(nil))
	first, err := saml.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	a, renewed, err := f.renew(alice, token, nil, now.Add(50*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !a.NotOnOrAfter.Equal(now.Add(110*time.Minute)) || !a.IssueInstant.Equal(first.IssueInstant) {
		t.Errorf("first renewal: until %v, issued %v; want a full hour and the first IssueInstant %v", a.NotOnOrAfter, a.IssueInstant, first.IssueInstant)
	}
	a, again, err := f.renew(alice, renewed, nil, now.Add(100*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !a.NotOnOrAfter.Equal(now.Add(2*time.Hour)) || !a.IssueInstant.Equal(first.IssueInstant) {
		t.Errorf("second renewal: until %v, issued %v; want the end of maxLifetime %v", a.NotOnOrAfter, a.IssueInstant, now.Add(2*time.Hour))
	}
	f.snap.STS.Renewal.AllowAfterExpiry = true
	_, _, err = f.renew(alice, again, &wstrust.Renewing{Allow: true, OK: true}, now.Add(2*time.Hour))
	expectRenewFault(t, err, soap.UnableToRenew, "first issued more than 2h0m0s ago")
}

// TestRenewingAllowFalse: a token issued for a request with
// Renewing Allow="false" carries the mark and is never renewed; one issued
// with Allow="true" (the default) is renewed. A renewal that says
// Allow="false" makes the renewed token final.
func TestRenewingAllowFalse(t *testing.T) {
	f := newRenewFixture(t)
	final := f.issue(alice, rst(func(r *wstrust.RST) { r.Renewing = &wstrust.Renewing{Allow: false} }))
	_, _, err := f.renew(alice, final, nil, now.Add(time.Minute))
	expectRenewFault(t, err, soap.UnableToRenew, `Allow="false"`)

	open := f.issue(alice, rst(func(r *wstrust.RST) { r.Renewing = &wstrust.Renewing{Allow: true} }))
	_, renewed, err := f.renew(alice, open, &wstrust.Renewing{Allow: false}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.renew(alice, renewed, nil, now.Add(2*time.Minute))
	expectRenewFault(t, err, soap.UnableToRenew, `Allow="false"`)

	v11 := f.issue(alice, rst(func(r *wstrust.RST) {
		r.Renewing = &wstrust.Renewing{Allow: false}
		r.TokenKind, r.TokenType = wstrust.TokenSAML11, "urn:oasis:names:tc:SAML:1.0:assertion"
	}))
	_, _, err = f.renew(alice, v11, nil, now.Add(time.Minute))
	expectRenewFault(t, err, soap.UnableToRenew, `Allow="false"`)
}

// TestRenewHolderOfKey: a token bound to a certificate is renewed only for
// a requestor that proves the key; one bound to a symmetric key, which the
// STS cannot check, is not renewed at all.
func TestRenewHolderOfKey(t *testing.T) {
	f := newRenewFixture(t)
	orders := certificateCaller(t, "orders-service")
	other := certificateCaller(t, "orders-service") // same name, another key
	token := f.issue(orders, rst(func(r *wstrust.RST) { r.AppliesTo, r.KeyType = "urn:test:hok", wstrust.KeyPublic }))

	keyless := orders
	keyless.Certificate = nil
	frontend := Principal{User: &policy.User{Name: "frontend"}, Method: saml.AuthnPassword}
	for name, who := range map[string]Principal{"the subject without its key": keyless, "another key": other, "an allowed requestor": frontend} {
		_, _, err := f.renew(who, token, nil, now.Add(time.Minute))
		if f := soap.AsFault(err); err == nil || f.Code != soap.UnableToRenew || !strings.Contains(f.Reason, "signed with its proof key") {
			t.Errorf("%s: got %v, want UnableToRenew for want of proof", name, err)
		}
	}
	a, _, err := f.renew(orders, token, nil, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if a.Confirmation.Method != saml.HolderOfKey {
		t.Errorf("renewed confirmation %v, want holder-of-key", a.Confirmation.Method)
	}

	// A token bound to a bare RSA key (UseKey with an RSAKeyValue) needs a
	// request signed with that key.
	pub := orders.Certificate.PublicKey.(*rsa.PublicKey)
	useKey := etree.NewElement("wst:UseKey")
	kv := useKey.CreateElement("ds:KeyInfo")
	kv.CreateAttr("xmlns:ds", wssec.NSDSig)
	rk := kv.CreateElement("ds:KeyValue").CreateElement("ds:RSAKeyValue")
	rk.CreateElement("ds:Modulus").SetText(base64.StdEncoding.EncodeToString(pub.N.Bytes()))
	rk.CreateElement("ds:Exponent").SetText(base64.StdEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()))
	bare := f.issue(alice, rst(func(r *wstrust.RST) { r.AppliesTo, r.KeyType, r.UseKey = "urn:test:hok", wstrust.KeyPublic, useKey }))
	_, _, err = f.renew(alice, bare, nil, now.Add(time.Minute))
	expectRenewFault(t, err, soap.UnableToRenew, "signed with its proof key")
	signedByKey := alice
	signedByKey.Certificate = orders.Certificate
	if _, _, err := f.renew(signedByKey, bare, nil, now.Add(time.Minute)); err != nil {
		t.Fatalf("alice signing with the bound key: %v", err)
	}

	// A symmetric proof key travels only encrypted for the relying party.
	ki := etree.NewElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", wssec.NSDSig)
	ek := ki.CreateElement("xenc:EncryptedKey")
	ek.CreateAttr("xmlns:xenc", soap.NamespaceXEnc)
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText("AAAA")
	sym := &saml.Assertion{
		ID: saml.NewID(), IssueInstant: now, Issuer: f.snap.STS.Issuer, Subject: saml.Subject{NameID: "alice", Format: saml.NameIDUnspecified},
		Confirmation: saml.SubjectConfirmation{Method: saml.HolderOfKey, KeyInfo: ki},
		NotBefore:    now, NotOnOrAfter: now.Add(time.Hour), Audiences: []string{"urn:test:hok"},
	}
	signed, err := f.is.sign(f.snap, saml.SAML20, sym)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.renew(alice, reread(t, signed), nil, now.Add(time.Minute))
	expectRenewFault(t, err, soap.UnableToRenew, "symmetric proof key cannot be renewed")
}
