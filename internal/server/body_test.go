package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/testfixture"
)

// TestRequestBodies: a body is read into a buffer of its announced length,
// so the length a client announces must not let it past the size limit,
// and a body shorter than announced is refused for what it is.
func TestRequestBodies(t *testing.T) {
	sts := testfixture.StartSTS(t, nil)
	r := client.Request{Endpoint: sts.URL, Username: "alice", Password: "alice-password", AppliesTo: echoService, Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	huge := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><a>` + strings.Repeat("x", 2<<20) + `</a></s:Body></s:Envelope>`

	t.Run("a token for a body of its announced length", func(t *testing.T) {
		status, body := rawPost(t, sts.URL, contentType, len(envelope), string(envelope))
		if status != http.StatusOK || !strings.Contains(body, "Assertion") {
			t.Fatalf("status %d:\n%s", status, body)
		}
	})
	t.Run("over the limit with its length announced", func(t *testing.T) {
		status, body := rawPost(t, sts.URL, contentType, len(huge), huge)
		expectSenderFault(t, status, body, "larger than 1048576 bytes")
	})
	t.Run("over the limit in chunks", func(t *testing.T) {
		status, body := rawPost(t, sts.URL, contentType, -1, huge)
		expectSenderFault(t, status, body, "larger than 1048576 bytes")
	})
	t.Run("shorter than announced", func(t *testing.T) {
		status, body := rawPost(t, sts.URL, contentType, len(envelope)+100, string(envelope))
		expectSenderFault(t, status, body, "could not be read to its end")
	})
}

// expectSenderFault checks for a SOAP 1.2 Sender fault with reason in it.
func expectSenderFault(t *testing.T, status int, body, reason string) {
	t.Helper()
	doc := parse(t, []byte(body))
	code, text := doc.FindElement("//Fault/Code/Value"), doc.FindElement("//Fault/Reason/Text")
	if status != http.StatusInternalServerError || code == nil || code.Text() != "s:Sender" || text == nil || !strings.Contains(text.Text(), reason) {
		t.Fatalf("status %d, want 500 with a Sender fault saying %q:\n%.600s", status, reason, body)
	}
}

// rawPost writes a POST by hand: with Content-Length: length (chunked when
// length is negative) and then body, whatever length says; it half-closes
// the connection after a body shorter than announced, so that it ends. (A
// half-close ends the request's context: the server sees the client gone.)
func rawPost(t *testing.T, endpoint, contentType string, length int, body string) (int, string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n", u.Path, u.Host, contentType)
	if length >= 0 {
		fmt.Fprintf(conn, "Content-Length: %d\r\n\r\n%s", length, body)
	} else {
		fmt.Fprintf(conn, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	}
	if length > len(body) {
		conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(out)
}
