package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// TestMalformedUsernameTokenLeavesNoPassword: however a UsernameToken is
// malformed, no log or audit line (nor the fault) quotes its password.
func TestMalformedUsernameTokenLeavesNoPassword(t *testing.T) {
	const password = "Sup3rS3cretPassw0rd"
	sts := testfixture.StartSTS(t, nil)
	r := client.Request{Endpoint: sts.URL, Username: "alice", Password: password, AppliesTo: echoService, Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	good := string(envelope)
	pw := "<o:Password>" + password + "</o:Password>"
	if !strings.Contains(good, pw) {
		t.Fatalf("no %q in the request", pw)
	}
	cases := map[string]string{
		"an undefined entity in the password":     "<o:Password>" + password + "&amp" + password + ";</o:Password>",
		"a character reference out of range":      "<o:Password>" + password + "&#0;</o:Password>",
		"the password closed by another tag":      "<o:Password>" + password + "</o:Passwrd>",
		"a child element in the password":         "<o:Password>" + password + "<b>" + password + "</b></o:Password>",
		"an unknown password Type":                "<o:Password Type=\"" + password + "\">" + password + "</o:Password>",
		"two passwords":                           pw + pw,
		"a password that is an attribute":         "<o:Password x=\"" + password + "\"/>",
		"a stray less-than sign in the password":  "<o:Password>" + password + "<" + password + "</o:Password>",
		"a password in an unclosed CDATA section": "<o:Password><![CDATA[" + password + "</o:Password>",
	}
	for name, bad := range cases {
		status, body := post(t, sts.URL, contentType, []byte(strings.Replace(good, pw, bad, 1)))
		if status == http.StatusOK {
			t.Errorf("%s: accepted", name)
		}
		if strings.Contains(string(body), password[:8]) {
			t.Errorf("%s: the fault quotes the password:\n%s", name, body)
		}
	}
	if logs := sts.Logs.String(); strings.Contains(logs, password[:8]) {
		t.Errorf("a log line quotes the password:\n%s", logs)
	}
}
