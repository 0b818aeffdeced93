package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

const adfsTrust = "/adfs/services/trust"

// adfsURL is the AD FS-compatible path on the STS's server.
func adfsURL(sts *testfixture.STS, path string) string {
	return strings.TrimSuffix(sts.URL, "/sts") + adfsTrust + path
}

// serveAlso runs another server over sts's policy, issuer and replay
// stores (another replica, or other server options), configured by edit,
// over TLS when useTLS is set. It returns the base URL and a client for it.
func serveAlso(t *testing.T, sts *testfixture.STS, useTLS bool, edit func(*server.Server)) (string, *http.Client) {
	t.Helper()
	s := &server.Server{Policy: sts.Server.Policy, Issuer: sts.Server.Issuer, Replay: sts.Server.Replay,
		Now: sts.Server.Now, Log: sts.Server.Log, Audit: sts.Server.Audit}
	if edit != nil {
		edit(s)
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	if useTLS {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	return hs.URL, hs.Client()
}

// TestADFSEndpointsAcceptOnlyTheirMechanism: each AD FS path takes its own
// credential and WS-Trust version, and refuses the others with a fault that
// names the path to use.
func TestADFSEndpointsAcceptOnlyTheirMechanism(t *testing.T) {
	registered, err := devkeys.NewRSA("orders-service", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The STS trusts the certificate and checks passwords.
	sts := x509STS(t, registered, newRelyingPartyKeys(t))
	// Plain HTTP here; TLS is tested below.
	base, hc := serveAlso(t, sts, false, func(s *server.Server) { s.AllowInsecureADFSPaths = true })

	password := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	password2005 := password
	password2005.Trust = "2005"
	signed := client.Request{SigningKey: registered.Key, SigningCert: registered.Cert, AppliesTo: "urn:example:hok"}
	signed2005 := signed
	signed2005.Trust = "2005"
	nothing := client.Request{AppliesTo: echoService}

	ok := func(path string, r client.Request) {
		t.Helper()
		t.Run("accepted: "+path, func(t *testing.T) {
			r.Endpoint, r.Now = base+adfsTrust+path, time.Now()
			status, body, err := r.Do(hc)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK {
				t.Fatalf("status %d:\n%s", status, body)
			}
			if _, err := client.Token(body); err != nil {
				t.Fatal(err)
			}
		})
	}
	refused := func(name, path string, r client.Request, ns, code, reason string) {
		t.Helper()
		t.Run("refused: "+name, func(t *testing.T) {
			r.Endpoint, r.Now = base+adfsTrust+path, time.Now()
			status, body, err := r.Do(hc)
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, status, body, "1.2", ns, code, reason)
		})
	}

	ok("/13/usernamemixed", password)
	ok("/2005/usernamemixed", password2005)
	ok("/13/certificatemixed", signed)
	ok("/2005/certificatemixed", signed2005)

	refused("2005 request at 13/usernamemixed", "/13/usernamemixed", password2005, nsTrust2005, "InvalidRequest",
		"send WS-Trust 2005/02 requests to /adfs/services/trust/2005/usernamemixed")
	refused("1.3 request at 2005/usernamemixed", "/2005/usernamemixed", password, nsTrust13, "InvalidRequest",
		"send WS-Trust 1.3 requests to /adfs/services/trust/13/usernamemixed")
	refused("2005 request at 13/certificatemixed", "/13/certificatemixed", signed2005, nsTrust2005, "InvalidRequest",
		"/adfs/services/trust/2005/certificatemixed")
	refused("signature at usernamemixed", "/13/usernamemixed", signed, nsSecExt, "UnsupportedSecurityToken",
		"accepts only a wsse:UsernameToken; send these credentials to /adfs/services/trust/13/certificatemixed")
	refused("password at certificatemixed", "/13/certificatemixed", password, nsSecExt, "UnsupportedSecurityToken",
		"send these credentials to /adfs/services/trust/13/usernamemixed")
	refused("password at 2005/certificatemixed", "/2005/certificatemixed", password2005, nsSecExt, "UnsupportedSecurityToken",
		"send these credentials to /adfs/services/trust/2005/usernamemixed")
	refused("password at windowstransport", "/13/windowstransport", password, nsSecExt, "UnsupportedSecurityToken",
		"accepts only Kerberos (HTTP Negotiate, or a Kerberos BinarySecurityToken)")
	t.Run("challenged: no credentials at windowstransport", func(t *testing.T) {
		r := nothing
		r.Endpoint, r.Now = base+adfsTrust+"/13/windowstransport", time.Now()
		body, contentType, err := r.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Post(r.Endpoint, contentType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Negotiate" {
			t.Errorf("status %d, WWW-Authenticate %q; want 401 and Negotiate", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	refused("no credentials at certificatemixed", "/13/certificatemixed", nothing, nsSecExt, "UnsupportedSecurityToken",
		"accepts only an X.509 signature or a TLS client certificate")
	refused("no credentials at usernamemixed", "/13/usernamemixed", nothing, nsSecExt, "UnsupportedSecurityToken",
		"accepts only a wsse:UsernameToken")

	// The paths are restricted copies of /sts, which still takes both.
	for _, r := range []client.Request{password, signed2005} {
		r.Endpoint, r.Now = sts.URL, time.Now()
		if status, body, err := r.Do(http.DefaultClient); err != nil || status != http.StatusOK {
			t.Fatalf("/sts: status %d, %v:\n%s", status, err, body)
		}
	}
}

// TestADFSWindowsTransportTakesKerberosOnly: a Kerberos ticket reaches the
// Kerberos check at windowstransport (here a ticket the STS cannot read,
// refused as such, not as the wrong mechanism).
func TestADFSWindowsTransportTakesKerberosOnly(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	r := client.Request{Endpoint: adfsURL(sts, "/13/windowstransport"), KerberosToken: []byte("not a ticket"), AppliesTo: echoService, Now: time.Now()}
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	expectFault(t, status, body, "1.2", nsSecExt, "UnsupportedSecurityToken", "Kerberos authentication is not enabled")
}

// postEnvelope posts r's envelope to url with extra headers.
func postEnvelope(t *testing.T, hc *http.Client, url string, r client.Request, headers map[string]string) (int, []byte) {
	t.Helper()
	r.Endpoint, r.Now = url, time.Now()
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(envelope))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestADFSUsernameMixedNeedsTLS: by default usernamemixed refuses plain
// HTTP, and answers over TLS, or behind a trusted proxy that says the client
// used TLS; a client cannot claim it itself.
func TestADFSUsernameMixedNeedsTLS(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	password := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	url := adfsURL(sts, "/13/usernamemixed")

	status, body := postEnvelope(t, http.DefaultClient, url, password, map[string]string{"X-Forwarded-Proto": "https"})
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "accepts passwords only over HTTPS")

	tlsBase, tlsClient := serveAlso(t, sts, true, nil)
	if status, body := postEnvelope(t, tlsClient, tlsBase+adfsTrust+"/13/usernamemixed", password, nil); status != http.StatusOK {
		t.Fatalf("over TLS: status %d:\n%s", status, body)
	}

	proxied, _ := serveAlso(t, sts, false, func(s *server.Server) {
		s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	url = proxied + adfsTrust + "/13/usernamemixed"
	if status, body := postEnvelope(t, http.DefaultClient, url, password, map[string]string{"X-Forwarded-Proto": "https"}); status != http.StatusOK {
		t.Fatalf("behind a trusted proxy that saw TLS: status %d:\n%s", status, body)
	}
	status, body = postEnvelope(t, http.DefaultClient, url, password, map[string]string{"X-Forwarded-Proto": "https, http"})
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "only over HTTPS")
	status, body = postEnvelope(t, http.DefaultClient, url, password, nil)
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "only over HTTPS")

	// certificatemixed takes no password, so it does not need the check.
	status, body = postEnvelope(t, http.DefaultClient, adfsURL(sts, "/13/certificatemixed"), client.Request{AppliesTo: echoService}, nil)
	expectFault(t, status, body, "1.2", nsSecExt, "UnsupportedSecurityToken", "X.509")
}
