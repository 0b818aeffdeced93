package issuer

import (
	"context"
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
