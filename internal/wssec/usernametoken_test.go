package wssec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

func TestUsernameTokenFromMSAL(t *testing.T) {
	root := parseRoot(t, string(testtools.ReadCorpus(t, "msalnet-rst13-usernamemixed.xml")))
	h, err := ParseHeader(findSecurity(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.UsernameTokens) != 1 {
		t.Fatalf("got %d UsernameTokens, want 1", len(h.UsernameTokens))
	}
	ut := h.UsernameTokens[0]
	if ut.Username != "the_username" || string(ut.Password) != "the_password" {
		t.Errorf("username/password = %q/%q", ut.Username, string(ut.Password))
	}
	// MSAL sends no Type: that is PasswordText.
	if ut.PasswordType != PasswordText || ut.IsDigest() {
		t.Errorf("PasswordType = %q, want PasswordText", ut.PasswordType)
	}
	if ut.ID != "UnPwSecTok13-d9d9bd71-1cfd-4dbf-8d9d-0bc5cfdbbe72" {
		t.Errorf("ID = %q", ut.ID)
	}
	if tok, ok := h.Lookup("#" + ut.ID); !ok || tok != Token(ut) {
		t.Errorf("Lookup(#%s) = %v, %v", ut.ID, tok, ok)
	}
	ts := h.Timestamp
	if ts == nil || ts.ID != "MSATimeStamp" {
		t.Fatalf("Timestamp = %+v, want MSATimeStamp", ts)
	}
	if ts.Expires.Sub(ts.Created) != 10*time.Minute {
		t.Errorf("MSAL window = %s, want 10m", ts.Expires.Sub(ts.Created))
	}
	if err := CheckTimestamp(ts, ts.Created.Add(time.Minute), 5*time.Minute, 0); err != nil {
		t.Errorf("MSAL Timestamp refused inside its window: %v", err)
	}
	if err := CheckUsernameTokenFreshness(ut, ts.Created.Add(time.Hour), time.Minute, time.Minute); err != nil {
		t.Errorf("a PasswordText token without Created needs no freshness: %v", err)
	}
}

func TestUsernameTokenAndBSTFromCXF(t *testing.T) {
	h, err := ParseHeader(parseRoot(t, string(testtools.ReadCorpus(t, "cxfsts-unittest-wsse-header-ut-bst-fragment.xml"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.UsernameTokens) != 1 || len(h.BinarySecurityTokens) != 1 {
		t.Fatalf("got %d UTs and %d BSTs, want 1 and 1", len(h.UsernameTokens), len(h.BinarySecurityTokens))
	}
	ut := h.UsernameTokens[0]
	if ut.Username != "alice" || string(ut.Password) != "clarinet" || ut.PasswordType != PasswordText || ut.ID != "UsernameToken-5" {
		t.Errorf("UsernameToken = %v password %q", ut, string(ut.Password))
	}
	if h.Timestamp != nil {
		t.Error("the CXF fragment has no Timestamp")
	}

	// UseKey in the matching RST points here with URI="#x509".
	tok, ok := h.Lookup("#x509")
	if !ok {
		t.Fatal("#x509 does not resolve")
	}
	bst, isBST := tok.(*BinarySecurityToken)
	if !isBST || !bst.IsX509() || bst.IsKerberos() || bst.EncodingType != EncodingBase64Binary {
		t.Fatalf("#x509 resolves to %T %+v", tok, tok)
	}
	cert, err := bst.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "www.client.com" {
		t.Errorf("certificate CN = %q, want www.client.com", cert.Subject.CommonName)
	}
}

func TestDigestTokenBuiltAsWSS4J(t *testing.T) {
	h, err := ParseHeader(parseRoot(t, string(testtools.ReadTestdata(t, "wss4j-ut-digest.xml"))))
	if err != nil {
		t.Fatal(err)
	}
	ut := h.UsernameTokens[0]
	if !ut.IsDigest() || ut.CreatedText != "2024-05-01T12:00:00.000Z" || len(ut.Nonce) != 16 {
		t.Fatalf("token = %v", ut)
	}
	if !VerifyDigest(ut, "clarinet") {
		t.Error("correct password refused")
	}
	for _, wrong := range []string{"", "Clarinet", "clarinet ", "clarine"} {
		if VerifyDigest(ut, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
	now := ut.Created.Add(time.Minute)
	if err := CheckUsernameTokenFreshness(ut, now, time.Minute, 5*time.Minute); err != nil {
		t.Errorf("fresh digest token refused: %v", err)
	}

	// Each input of the digest matters.
	tampered := *ut
	tampered.Nonce = append([]byte{}, ut.Nonce...)
	tampered.Nonce[0] ^= 1
	if VerifyDigest(&tampered, "clarinet") {
		t.Error("digest accepted with a changed nonce")
	}
	tampered = *ut
	tampered.CreatedText = "2024-05-01T12:00:00Z" // same instant, other characters
	if VerifyDigest(&tampered, "clarinet") {
		t.Error("digest accepted with a changed Created text")
	}
	for _, missing := range []func(*UsernameToken){
		func(u *UsernameToken) { u.Nonce = nil },
		func(u *UsernameToken) { u.CreatedText = "" },
		func(u *UsernameToken) { u.PasswordType = PasswordText },
	} {
		tampered = *ut
		missing(&tampered)
		if VerifyDigest(&tampered, "clarinet") {
			t.Errorf("digest accepted from %v", tampered)
		}
	}
	if VerifyDigest(nil, "clarinet") {
		t.Error("nil token accepted")
	}
}

func TestPasswordDigestKnownVector(t *testing.T) {
	// Computed independently: (base64 -d nonce; printf created password) | openssl sha1 -binary | base64.
	nonce := mustBase64(t, "WScqanjCEAC4mQoBE07sAQ==")
	got := PasswordDigestOf(nonce, "2003-07-16T01:24:32Z", "IloveDogs")
	if want := "cywFYG+KaPMK3PCWR+m+DWtqzac="; got != want {
		t.Errorf("PasswordDigestOf = %s, want %s", got, want)
	}
	ut := &UsernameToken{Username: "NNK", HasPassword: true, PasswordType: PasswordDigest,
		Password: Secret(got), Nonce: nonce, CreatedText: "2003-07-16T01:24:32Z"}
	if !VerifyDigest(ut, "IloveDogs") {
		t.Error("VerifyDigest refuses the known vector")
	}
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := decodeBase64(s, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseUsernameTokenErrors(t *testing.T) {
	const secret = "s3cr3t-never-shown"
	ptype := func(uri string) string { return ` Type="` + uri + `"` }
	tests := []struct {
		name   string
		inner  string
		code   soap.FaultCode
		reason string
	}{
		{"no Username", `<wsse:Password>` + secret + `</wsse:Password>`, soap.InvalidSecurityToken, "has no Username"},
		{"blank Username", `<wsse:Username> </wsse:Username>`, soap.InvalidSecurityToken, "has no Username"},
		{"two Usernames", `<wsse:Username>a</wsse:Username><wsse:Username>b</wsse:Username>`, soap.InvalidSecurityToken, "more than one Username"},
		{"two Passwords", `<wsse:Username>a</wsse:Username><wsse:Password>` + secret + `</wsse:Password><wsse:Password>x</wsse:Password>`, soap.InvalidSecurityToken, "more than one Password"},
		{"unknown Type", `<wsse:Username>a</wsse:Username><wsse:Password` + ptype("urn:x#PasswordHash") + `>` + secret + `</wsse:Password>`, soap.InvalidSecurityToken, "Password Type is not supported"},
		{"Password with element", `<wsse:Username>a</wsse:Username><wsse:Password>` + secret + `<x/></wsse:Password>`, soap.InvalidSecurityToken, "Password is not text"},
		{"Nonce not base64", `<wsse:Username>a</wsse:Username><wsse:Nonce>*not*base64*</wsse:Nonce>`, soap.InvalidSecurityToken, "Nonce is not valid base64"},
		{"Nonce empty", `<wsse:Username>a</wsse:Username><wsse:Nonce></wsse:Nonce>`, soap.InvalidSecurityToken, "Nonce is empty"},
		{"Nonce too long", `<wsse:Username>a</wsse:Username><wsse:Nonce>` + strings.Repeat("AAAA", 400) + `</wsse:Nonce>`, soap.InvalidSecurityToken, "Nonce is too long"},
		{"Nonce hex", `<wsse:Username>a</wsse:Username><wsse:Nonce EncodingType="urn:x#HexBinary">00</wsse:Nonce>`, soap.InvalidSecurityToken, "Nonce EncodingType is not supported"},
		{"two Nonces", `<wsse:Username>a</wsse:Username><wsse:Nonce>AA==</wsse:Nonce><wsse:Nonce>AA==</wsse:Nonce>`, soap.InvalidSecurityToken, "more than one Nonce"},
		{"bad Created", `<wsse:Username>a</wsse:Username><wsu:Created>soon</wsu:Created>`, soap.InvalidSecurityToken, "Created is not a valid date"},
		{"two Created", `<wsse:Username>a</wsse:Username><wsu:Created>2024-05-01T12:00:00Z</wsu:Created><wsu:Created>2024-05-01T12:00:00Z</wsu:Created>`, soap.InvalidSecurityToken, "more than one Created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader(parseRoot(t, security(`<wsse:UsernameToken>`+tt.inner+`</wsse:UsernameToken>`)))
			wantFault(t, err, tt.code, tt.reason)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func TestParseUsernameTokenAccepts(t *testing.T) {
	tests := []struct {
		name    string
		inner   string
		check   func(*UsernameToken) bool
		explain string
	}{
		{"Type with whitespace", `<wsse:Username>a</wsse:Username><wsse:Password Type="  ` + PasswordDigest + "\n" + `">AA==</wsse:Password>`,
			func(u *UsernameToken) bool { return u.PasswordType == PasswordDigest }, "Type is trimmed"},
		{"no Password", `<wsse:Username>a</wsse:Username>`,
			func(u *UsernameToken) bool { return !u.HasPassword && u.PasswordType == "" }, "no Password, no type"},
		{"password kept verbatim", `<wsse:Username>  a  </wsse:Username><wsse:Password> p w </wsse:Password>`,
			func(u *UsernameToken) bool { return u.Username == "a" && string(u.Password) == " p w " }, "username trimmed, password not"},
		{"comment inside password", `<wsse:Username>a</wsse:Username><wsse:Password>ab<!-- c -->cd</wsse:Password>`,
			func(u *UsernameToken) bool { return string(u.Password) == "abcd" }, "all character data counts"},
		{"Nonce without EncodingType, wrapped", `<wsse:Username>a</wsse:Username><wsse:Nonce>AAEC
AwQ=</wsse:Nonce>`,
			func(u *UsernameToken) bool { return bytes.Equal(u.Nonce, []byte{0, 1, 2, 3, 4}) }, "nonce decoded"},
		{"unknown child ignored", `<wsse:Username>a</wsse:Username><wsse11:Salt xmlns:wsse11="` + NSSecExt11 + `">AA==</wsse11:Salt>`,
			func(u *UsernameToken) bool { return u.Username == "a" }, "extension ignored"},
		{"default namespace", `<Username xmlns="` + NSSecExt + `">a</Username>`,
			func(u *UsernameToken) bool { return u.Username == "a" }, "prefix does not matter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(parseRoot(t, security(`<wsse:UsernameToken>`+tt.inner+`</wsse:UsernameToken>`)))
			if err != nil {
				t.Fatal(err)
			}
			if ut := h.UsernameTokens[0]; !tt.check(ut) {
				t.Errorf("%s: got %v", tt.explain, ut)
			}
		})
	}
}

func TestCheckUsernameTokenFreshness(t *testing.T) {
	created := mustTime(t, "2024-05-01T12:00:00Z")
	const skew, maxAge = time.Minute, 5 * time.Minute
	digest := &UsernameToken{HasPassword: true, PasswordType: PasswordDigest, Nonce: []byte{1}, Created: created, CreatedText: "2024-05-01T12:00:00Z"}
	text := &UsernameToken{HasPassword: true, PasswordType: PasswordText, Created: created, CreatedText: "2024-05-01T12:00:00Z"}
	noCreated := &UsernameToken{HasPassword: true, PasswordType: PasswordDigest, Nonce: []byte{1}}
	noNonce := &UsernameToken{HasPassword: true, PasswordType: PasswordDigest, Created: created, CreatedText: "2024-05-01T12:00:00Z"}

	tests := []struct {
		name string
		ut   *UsernameToken
		now  time.Time
		code *soap.FaultCode
	}{
		{"fresh", digest, created.Add(time.Minute), nil},
		{"at max age plus skew", digest, created.Add(maxAge + skew), nil},
		{"too old", digest, created.Add(maxAge + skew + time.Millisecond), &soap.MessageExpired},
		{"future within skew", digest, created.Add(-skew), nil},
		{"future beyond skew", digest, created.Add(-skew - time.Millisecond), &soap.InvalidSecurity},
		{"text token with old Created", text, created.Add(time.Hour), &soap.MessageExpired},
		{"digest without Created", noCreated, created, &soap.InvalidSecurityToken},
		{"digest without Nonce", noNonce, created, &soap.InvalidSecurityToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUsernameTokenFreshness(tt.ut, tt.now, skew, maxAge)
			if tt.code == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantFault(t, err, *tt.code, "")
		})
	}
}

func TestPasswordIsNeverPrinted(t *testing.T) {
	const secret = "clarinet-42"
	h, err := ParseHeader(parseRoot(t, security(`<wsse:UsernameToken><wsse:Username>alice</wsse:Username><wsse:Password>`+secret+`</wsse:Password></wsse:UsernameToken>`)))
	if err != nil {
		t.Fatal(err)
	}
	ut := h.UsernameTokens[0]
	var logged, text bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("token", "ut", ut, "value", *ut, "password", ut.Password)
	slog.New(slog.NewTextHandler(&text, nil)).Info("token", "ut", ut, "header", h)
	js, err := json.Marshal(ut)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":    fmt.Sprintf("%v", ut),
		"%+v":   fmt.Sprintf("%+v", *ut),
		"%#v":   fmt.Sprintf("%#v", *ut),
		"%s":    fmt.Sprintf("%s", ut.Password),
		"json":  string(js),
		"slog":  logged.String(),
		"text":  text.String(),
		"hdr":   fmt.Sprintf("%+v", h),
		"value": fmt.Sprint(*ut),
	}
	for how, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s output reveals the password: %s", how, out)
		}
	}
	if !strings.Contains(outputs["%v"], "alice") {
		t.Errorf("%%v output should still name the user: %s", outputs["%v"])
	}
}
