package soap

import (
	"strings"
	"testing"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

func TestParseAddressing(t *testing.T) {
	const (
		wsa10 = `xmlns:a="http://www.w3.org/2005/08/addressing"`
		wsa04 = `xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"`
	)
	tests := []struct {
		name    string
		header  string
		want    Addressing
		wantErr string // substring of a Sender fault's reason
	}{
		{
			name: "2005/08 complete",
			header: `<a:Action ` + wsa10 + `>http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</a:Action>` +
				`<a:MessageID ` + wsa10 + `>urn:uuid:1</a:MessageID>` +
				`<a:ReplyTo ` + wsa10 + `><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>` +
				`<a:To ` + wsa10 + `>https://sts.example.test/sts</a:To>`,
			want: Addressing{Namespace: NamespaceWSA10, Action: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
				MessageID: "urn:uuid:1", ReplyTo: AnonymousWSA10, To: "https://sts.example.test/sts"},
		},
		{
			name:   "2004/08",
			header: `<a:Action ` + wsa04 + `>urn:act</a:Action><a:To ` + wsa04 + `>urn:to</a:To>`,
			want:   Addressing{Namespace: NamespaceWSA200408, Action: "urn:act", To: "urn:to"},
		},
		{
			name:   "whitespace collapsed",
			header: "<a:Action " + wsa10 + ">\n\t\thttp://example.test/act\n\t</a:Action><a:MessageID " + wsa10 + ">urn:uuid:2\n\t</a:MessageID>",
			want:   Addressing{Namespace: NamespaceWSA10, Action: "http://example.test/act", MessageID: "urn:uuid:2"},
		},
		{
			name:   "comment inside a value does not truncate it",
			header: `<a:Action ` + wsa10 + `>urn:<!-- split -->act</a:Action>`,
			want:   Addressing{Namespace: NamespaceWSA10, Action: "urn:act"},
		},
		{
			name:   "ADAL lower-case messageID is not a MessageID",
			header: `<a:Action ` + wsa10 + `>urn:act</a:Action><a:messageID ` + wsa10 + `>urn:uuid:3</a:messageID>`,
			want:   Addressing{Namespace: NamespaceWSA10, Action: "urn:act"},
		},
		{
			name:   "only optional headers missing",
			header: `<a:Action ` + wsa10 + `>urn:act</a:Action>`,
			want:   Addressing{Namespace: NamespaceWSA10, Action: "urn:act"},
		},
		{
			name: "no addressing at all",
			want: Addressing{},
		},
		{
			name:   "prefix is irrelevant",
			header: `<Action xmlns="http://www.w3.org/2005/08/addressing">urn:act</Action>`,
			want:   Addressing{Namespace: NamespaceWSA10, Action: "urn:act"},
		},
		{
			name:    "mixed namespaces",
			header:  `<a:Action ` + wsa10 + `>urn:act</a:Action><b:MessageID xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:uuid:4</b:MessageID>`,
			wantErr: "mixes WS-Addressing",
		},
		{
			name:    "duplicate Action",
			header:  `<a:Action ` + wsa10 + `>urn:one</a:Action><a:Action ` + wsa10 + `>urn:two</a:Action>`,
			wantErr: "duplicate wsa:Action",
		},
		{
			name:    "empty Action",
			header:  `<a:Action ` + wsa10 + `>  </a:Action>`,
			wantErr: "empty wsa:Action",
		},
		{
			name:    "ReplyTo without Address",
			header:  `<a:ReplyTo ` + wsa10 + `/>`,
			wantErr: "no wsa:Address",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(env12(tt.header, pingBody)), "", Limits{})
			if tt.wantErr != "" {
				f := mustFault(t, err, Sender)
				if !strings.Contains(f.Reason, tt.wantErr) {
					t.Errorf("reason %q does not mention %q", f.Reason, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if env.Addressing != tt.want {
				t.Errorf("Addressing = %+v\nwant %+v", env.Addressing, tt.want)
			}
		})
	}
}

func TestParseAddressingSeeds(t *testing.T) {
	tests := []struct {
		file string
		want Addressing
	}{
		{"soap12-wsa10.xml", Addressing{Namespace: NamespaceWSA10, Action: "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
			MessageID: "urn:uuid:0a1b2c3d-0000-4000-8000-000000000001", ReplyTo: AnonymousWSA10, To: "https://sts.example.test/sts"}},
		{"soap12-wsa200408-whitespace.xml", Addressing{Namespace: NamespaceWSA200408, Action: "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
			MessageID: "urn:uuid:0a1b2c3d-0000-4000-8000-000000000002", To: "https://sts.example.test/sts"}},
		{"soap12-bom-adal-messageid.xml", Addressing{Namespace: NamespaceWSA10, Action: "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env, err := Parse(testtools.ReadTestdata(t, "requests/"+tt.file), "application/soap+xml", Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if env.Addressing != tt.want {
				t.Errorf("Addressing = %+v\nwant %+v", env.Addressing, tt.want)
			}
		})
	}
}

func TestIsAnonymous(t *testing.T) {
	for addr, want := range map[string]bool{
		"":                       true,
		AnonymousWSA10:           true,
		AnonymousWSA200408:       true,
		"https://client.test/cb": false,
	} {
		if IsAnonymous(addr) != want {
			t.Errorf("IsAnonymous(%q) = %v", addr, !want)
		}
	}
}
