package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/saml"
	"github.com/trustbroker/trustbroker/internal/soap"
)

var discard = logr.Discard()

func contains(s, part string) bool { return strings.Contains(s, part) }

func TestHMACToken(t *testing.T) {
	key := []byte("k")
	h := &HMACTokenHandler{Key: key, MaxSkew: time.Minute}
	attrs := []saml.Attribute{{Name: "urn:a", Values: []string{"1", "2"}}}
	good := NewHMACToken(key, "erin", attrs, now, now.Add(time.Hour))
	id, err := h.Validate(context.Background(), good, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject.NameID != "erin" || len(id.Attributes) != 1 || strings.Join(id.Attributes[0].Values, ",") != "1,2" {
		t.Errorf("identity %+v", id)
	}
	altered := good.Copy()
	altered.SelectAttr("Subject").Value = "mallory"
	for name, tc := range map[string]struct {
		el  *etree.Element
		at  time.Time
		why string
	}{
		"altered subject": {altered, now, "MAC is not valid"},
		"other key":       {NewHMACToken([]byte("other"), "erin", attrs, now, now.Add(time.Hour)), now, "MAC is not valid"},
		"expired":         {good, now.Add(2 * time.Hour), "not valid at this time"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.Validate(context.Background(), tc.el, tc.at)
			if f := soap.AsFault(err); err == nil || f.Code != soap.InvalidSecurityToken || !strings.Contains(f.Reason, tc.why) {
				t.Errorf("got %v, want InvalidSecurityToken %q", err, tc.why)
			}
		})
	}
}

func FuzzHMACToken(f *testing.F) {
	seed := NewHMACToken([]byte("k"), "erin", []saml.Attribute{{Name: "urn:a", Values: []string{"1"}}}, now, now.Add(time.Hour))
	doc := etree.NewDocument()
	doc.SetRoot(seed)
	s, _ := doc.WriteToString()
	f.Add(s)
	f.Add(`<ht:HMACToken xmlns:ht="urn:trustbroker:token:hmac" Subject="x" Issued="bad"/>`)
	f.Fuzz(func(t *testing.T, data string) {
		d := etree.NewDocument()
		if d.ReadFromString(data) != nil || d.Root() == nil {
			return
		}
		h := &HMACTokenHandler{Key: []byte("k")}
		id, err := h.Validate(context.Background(), d.Root(), now)
		if err != nil {
			if soap.AsFault(err).Code != soap.InvalidSecurityToken {
				t.Fatalf("error is not InvalidSecurityToken: %v", err)
			}
			return
		}
		if id.Subject.NameID == "" {
			t.Fatal("valid token without a subject")
		}
	})
}

// NamespaceHMACToken is the namespace, and token type URI, of HMACToken.
const NamespaceHMACToken = "urn:trustbroker:token:hmac"

// Bounds on an HMAC token, whatever the envelope allows.
const (
	maxHMACAttributes = 100
	maxHMACValueBytes = 4096
)

// HMACTokenHandler validates an example custom token, as a token review
// webhook would (see webhook_test.go): a token element
//
//	<ht:HMACToken xmlns:ht="urn:trustbroker:token:hmac" Subject="carol"
//	    Issued="2026-01-01T10:00:00Z" Expires="2026-01-01T11:00:00Z">
//	  <ht:Attribute Name="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress">carol@example.com</ht:Attribute>
//	  <ht:MAC>base64 HMAC-SHA256</ht:MAC>
//	</ht:HMACToken>
//
// whose MAC, keyed with a secret shared with its issuer, covers the
// subject, the two times and the attributes in order (each field
// length-prefixed, so no two field lists authenticate the same bytes).
type HMACTokenHandler struct {
	Key []byte
	// MaxSkew is the clock skew allowed on Issued and Expires.
	MaxSkew time.Duration
}

// hmacToken is a parsed, not yet authenticated token.
type hmacToken struct {
	subject         string
	issued, expires time.Time
	attributes      []saml.Attribute
	mac             []byte
}

// Validate checks a token: the MAC must match and now must lie in
// [Issued, Expires) within MaxSkew.
func (h *HMACTokenHandler) Validate(_ context.Context, el *etree.Element, now time.Time) (*Identity, error) {
	t, err := parseHMACToken(el)
	if err != nil {
		return nil, err
	}
	if len(h.Key) == 0 || !hmac.Equal(t.mac, hmacOf(h.Key, t)) {
		return nil, soap.NewFault(soap.InvalidSecurityToken, "The custom token's MAC is not valid.", nil)
	}
	if now.Add(h.MaxSkew).Before(t.issued) || !now.Add(-h.MaxSkew).Before(t.expires) {
		return nil, soap.NewFault(soap.InvalidSecurityToken, "The custom token is not valid at this time.",
			fmt.Errorf("valid %s to %s", t.issued.Format(time.RFC3339), t.expires.Format(time.RFC3339)))
	}
	return &Identity{
		Subject:      saml.Subject{NameID: t.subject},
		Attributes:   t.attributes,
		Version:      saml.SAML20,
		Authn:        saml.AuthnUnspecified,
		AuthnInstant: t.issued,
		Issuer:       NamespaceHMACToken,
	}, nil
}

// NewHMACToken builds a token for subject with attributes (SAML 2.0 names),
// valid from issued to expires, authenticated with key.
func NewHMACToken(key []byte, subject string, attributes []saml.Attribute, issued, expires time.Time) *etree.Element {
	t := &hmacToken{subject: subject, issued: issued.UTC().Truncate(time.Second), expires: expires.UTC().Truncate(time.Second), attributes: attributes}
	el := etree.NewElement("ht:HMACToken")
	el.CreateAttr("xmlns:ht", NamespaceHMACToken)
	el.CreateAttr("Subject", subject)
	el.CreateAttr("Issued", t.issued.Format(time.RFC3339))
	el.CreateAttr("Expires", t.expires.Format(time.RFC3339))
	for _, at := range attributes {
		for _, v := range at.Values {
			a := el.CreateElement("ht:Attribute")
			a.CreateAttr("Name", at.Name)
			a.SetText(v)
		}
	}
	el.CreateElement("ht:MAC").SetText(base64.StdEncoding.EncodeToString(hmacOf(key, t)))
	return el
}

// parseHMACToken reads the token's fields; one Attribute element per value,
// consecutive values of one name forming one attribute.
func parseHMACToken(el *etree.Element) (*hmacToken, error) {
	bad := func(reason string, cause error) error {
		return soap.NewFault(soap.InvalidSecurityToken, "The custom token is malformed: "+reason+".", cause)
	}
	t := &hmacToken{}
	t.subject, _ = soap.AttrNS(el, "", "Subject")
	if t.subject = strings.TrimSpace(t.subject); t.subject == "" || len(t.subject) > maxHMACValueBytes {
		return nil, bad("no usable Subject", nil)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"Issued", &t.issued}, {"Expires", &t.expires}} {
		raw, _ := soap.AttrNS(el, "", f.name)
		v, err := time.Parse(time.RFC3339, strings.TrimSpace(raw))
		if err != nil {
			return nil, bad("bad "+f.name, err)
		}
		*f.dst = v.UTC()
	}
	values := 0
	for _, c := range el.ChildElements() {
		switch {
		case soap.IsElement(c, NamespaceHMACToken, "Attribute"):
			if values++; values > maxHMACAttributes {
				return nil, bad("too many attributes", nil)
			}
			name, _ := soap.AttrNS(c, "", "Name")
			name, value := strings.TrimSpace(name), soap.Text(c)
			if name == "" || len(name) > maxHMACValueBytes || len(value) > maxHMACValueBytes {
				return nil, bad("an attribute without a usable Name or value", nil)
			}
			if n := len(t.attributes); n > 0 && t.attributes[n-1].Name == name {
				t.attributes[n-1].Values = append(t.attributes[n-1].Values, value)
			} else {
				t.attributes = append(t.attributes, saml.Attribute{Name: name, Namespace: saml.AttrNameFormatURI, Values: []string{value}})
			}
		case soap.IsElement(c, NamespaceHMACToken, "MAC"):
			if t.mac != nil {
				return nil, bad("more than one MAC", nil)
			}
			mac, err := base64.StdEncoding.DecodeString(soap.CollapsedText(c))
			if err != nil || len(mac) == 0 {
				return nil, bad("the MAC is not base64", err)
			}
			t.mac = mac
		default:
			return nil, bad("unknown element "+truncate(c.Tag, 60), nil)
		}
	}
	if t.mac == nil {
		return nil, bad("no MAC", errors.New("missing ht:MAC"))
	}
	return t, nil
}

// hmacOf is the MAC over the token's fields.
func hmacOf(key []byte, t *hmacToken) []byte {
	m := hmac.New(sha256.New, key)
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	field(t.subject)
	field(t.issued.UTC().Format(time.RFC3339))
	field(t.expires.UTC().Format(time.RFC3339))
	for _, at := range t.attributes {
		for _, v := range at.Values {
			field(at.Name)
			field(v)
		}
	}
	return m.Sum(nil)
}
