package wssec

import (
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in      string
		want    string // RFC 3339 in UTC with nanoseconds; empty = error
		wantErr bool
	}{
		{in: "2018-10-02T10:15:30Z", want: "2018-10-02T10:15:30Z"},
		{in: "2018-10-02T10:15:30.0Z", want: "2018-10-02T10:15:30Z"},
		{in: "2013-11-15T03:08:25.205Z", want: "2013-11-15T03:08:25.205Z"},
		{in: "2008-08-15T01:48:08.3184132Z", want: "2008-08-15T01:48:08.3184132Z"},
		{in: "\n\t\t2018-10-02T10:15:30.068Z \n", want: "2018-10-02T10:15:30.068Z"},
		{in: "2018-10-02T12:15:30+02:00", want: "2018-10-02T10:15:30Z"},
		{in: "2018-10-02T10:15:30.12345678Z", wantErr: true}, // 8 fractional digits
		{in: "2018-10-02T10:15:30", wantErr: true},           // no zone
		{in: "2018-10-02T10:15:30.5", wantErr: true},         // no zone
		{in: "2018-10-02 10:15:30Z", wantErr: true},
		{in: "2018-10-02t10:15:30z", wantErr: true},
		{in: "2018-13-02T10:15:30Z", wantErr: true},
		{in: "2018-10-02T10:15:30.Z", wantErr: true},
		{in: "", wantErr: true},
		{in: "yesterday", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseDateTime(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseDateTime(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDateTime(%q): %v", tt.in, err)
			continue
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != tt.want {
			t.Errorf("ParseDateTime(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
}

func TestFormatDateTime(t *testing.T) {
	loc := time.FixedZone("CEST", 2*3600)
	got := FormatDateTime(time.Date(2015, 7, 31, 7, 45, 47, 269_999_999, loc))
	if want := "2015-07-31T05:45:47.269Z"; got != want {
		t.Errorf("FormatDateTime = %s, want %s", got, want)
	}
	if got := FormatDateTime(time.Date(2015, 7, 31, 5, 45, 47, 0, time.UTC)); got != "2015-07-31T05:45:47.000Z" {
		t.Errorf("FormatDateTime keeps trailing zeros as AD FS does: got %s", got)
	}
}

func TestCheckTimestamp(t *testing.T) {
	created := mustTime(t, "2024-05-01T12:00:00Z")
	expires := created.Add(5 * time.Minute)
	const skew = 5 * time.Minute
	withExpires := &Timestamp{Created: created, Expires: expires}
	noExpires := &Timestamp{Created: created}

	tests := []struct {
		name string
		ts   *Timestamp
		now  time.Time
		code *soap.FaultCode // nil = accepted
	}{
		{"inside window", withExpires, created.Add(time.Minute), nil},
		{"created in future within skew", withExpires, created.Add(-skew), nil},
		{"created in future beyond skew", withExpires, created.Add(-skew - time.Millisecond), &soap.InvalidSecurity},
		{"expired within skew", withExpires, expires.Add(skew), nil},
		{"expired beyond skew", withExpires, expires.Add(skew + time.Millisecond), &soap.MessageExpired},
		{"long expired", withExpires, expires.Add(24 * time.Hour), &soap.MessageExpired},
		{"no Expires, fresh", noExpires, created.Add(time.Minute), nil},
		{"no Expires, at default age plus skew", noExpires, created.Add(DefaultMaxMessageAge + skew), nil},
		{"no Expires, too old", noExpires, created.Add(DefaultMaxMessageAge + skew + time.Millisecond), &soap.MessageExpired},
		{"no Expires, future", noExpires, created.Add(-skew - time.Second), &soap.InvalidSecurity},
		{"Expires before Created", &Timestamp{Created: created, Expires: created.Add(-time.Second)}, created, &soap.InvalidSecurity},
		{"Expires equals Created", &Timestamp{Created: created, Expires: created}, created, &soap.InvalidSecurity},
		{"missing", nil, created, &soap.InvalidSecurity},
		// A year-old Created with Expires a year ahead: Expires is capped
		// at Created plus the maximum message age.
		{"Expires far ahead, Created a year old", &Timestamp{Created: created, Expires: created.Add(2 * 365 * 24 * time.Hour)}, created.Add(365 * 24 * time.Hour), &soap.MessageExpired},
		{"Expires far ahead, past the maximum age", &Timestamp{Created: created, Expires: created.Add(time.Hour)}, created.Add(DefaultMaxMessageAge + skew + time.Millisecond), &soap.MessageExpired},
		{"Expires far ahead, within the maximum age", &Timestamp{Created: created, Expires: created.Add(time.Hour)}, created.Add(DefaultMaxMessageAge), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTimestamp(tt.ts, tt.now, skew, 0)
			if tt.code == nil {
				if err != nil {
					t.Fatalf("CheckTimestamp: %v, want accepted", err)
				}
				return
			}
			wantFault(t, err, *tt.code, "")
		})
	}
}

func TestCheckTimestampZeroSkew(t *testing.T) {
	created := mustTime(t, "2024-05-01T12:00:00Z")
	ts := &Timestamp{Created: created, Expires: created.Add(time.Minute)}
	if err := CheckTimestamp(ts, created.Add(-time.Nanosecond), 0, 0); err == nil {
		t.Error("a Created 1ns in the future is accepted with zero skew")
	}
	if err := CheckTimestamp(ts, created.Add(time.Minute), 0, 0); err != nil {
		t.Errorf("now == Expires refused: %v", err)
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		name    string
		inner   string
		reason  string // empty = accepted
		created string
		expires string
	}{
		{name: "both", inner: `<wsu:Created>2024-05-01T12:00:00.000Z</wsu:Created><wsu:Expires>2024-05-01T12:05:00.000Z</wsu:Expires>`,
			created: "2024-05-01T12:00:00Z", expires: "2024-05-01T12:05:00Z"},
		{name: "expires first", inner: `<wsu:Expires>2024-05-01T12:05:00Z</wsu:Expires><wsu:Created>2024-05-01T12:00:00Z</wsu:Created>`,
			created: "2024-05-01T12:00:00Z", expires: "2024-05-01T12:05:00Z"},
		{name: "no Expires", inner: `<wsu:Created>2024-05-01T12:00:00Z</wsu:Created>`, created: "2024-05-01T12:00:00Z"},
		{name: "pretty printed", inner: "\n  <wsu:Created>\n    2024-05-01T12:00:00Z\n  </wsu:Created>\n", created: "2024-05-01T12:00:00Z"},
		{name: "extension ignored", inner: `<wsu:Created>2024-05-01T12:00:00Z</wsu:Created><x:Ext xmlns:x="urn:x"/>`, created: "2024-05-01T12:00:00Z"},
		{name: "no Created", inner: `<wsu:Expires>2024-05-01T12:05:00Z</wsu:Expires>`, reason: "Timestamp has no Created"},
		{name: "Created in wrong namespace", inner: `<wsse:Created>2024-05-01T12:00:00Z</wsse:Created>`, reason: "Timestamp has no Created"},
		{name: "two Created", inner: `<wsu:Created>2024-05-01T12:00:00Z</wsu:Created><wsu:Created>2024-05-01T12:00:00Z</wsu:Created>`, reason: "more than one Created"},
		{name: "two Expires", inner: `<wsu:Created>2024-05-01T12:00:00Z</wsu:Created><wsu:Expires>2024-05-01T12:05:00Z</wsu:Expires><wsu:Expires>2024-05-01T12:09:00Z</wsu:Expires>`, reason: "more than one Expires"},
		{name: "bad date", inner: `<wsu:Created>01/05/2024</wsu:Created>`, reason: "Timestamp Created is not a valid date"},
		{name: "no zone", inner: `<wsu:Created>2024-05-01T12:00:00</wsu:Created>`, reason: "Timestamp Created is not a valid date"},
		{name: "element inside date", inner: `<wsu:Created>2024-05-01T12:00:00Z<x/></wsu:Created>`, reason: "Timestamp Created is not a valid date"},
		{name: "Expires before Created", inner: `<wsu:Created>2024-05-01T12:05:00Z</wsu:Created><wsu:Expires>2024-05-01T12:00:00Z</wsu:Expires>`, reason: "Expires is not after Created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(parseRoot(t, security(`<wsu:Timestamp wsu:Id="ts">`+tt.inner+`</wsu:Timestamp>`)))
			if tt.reason != "" {
				wantFault(t, err, soap.InvalidSecurity, tt.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ts := h.Timestamp
			if ts == nil || ts.ID != "ts" {
				t.Fatalf("Timestamp = %+v, want id ts", ts)
			}
			if !ts.Created.Equal(mustTime(t, tt.created)) {
				t.Errorf("Created = %v, want %s", ts.Created, tt.created)
			}
			if tt.expires == "" {
				if !ts.Expires.IsZero() {
					t.Errorf("Expires = %v, want zero", ts.Expires)
				}
			} else if !ts.Expires.Equal(mustTime(t, tt.expires)) {
				t.Errorf("Expires = %v, want %s", ts.Expires, tt.expires)
			}
		})
	}
}

func TestNewResponseTimestampGolden(t *testing.T) {
	now := time.Date(2015, 7, 31, 5, 45, 47, 269_734_000, time.UTC)
	sec := NewSecurity()
	sec.AddChild(NewResponseTimestamp(now))
	doc := etree.NewDocumentWithRoot(sec)
	got, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	testtools.Golden(t, filepath.Join("testdata", "response-timestamp.golden.xml"), []byte(got), *update)

	// What we write, we read back as a valid 5-minute Timestamp.
	h, err := ParseHeader(parseRoot(t, got))
	if err != nil {
		t.Fatalf("own Timestamp does not parse: %v", err)
	}
	ts := h.Timestamp
	if ts.ID != "_0" || ts.Expires.Sub(ts.Created) != 5*time.Minute {
		t.Errorf("read back id %q window %s, want _0 and 5m", ts.ID, ts.Expires.Sub(ts.Created))
	}
	if err := CheckTimestamp(ts, now, 0, 0); err != nil {
		t.Errorf("own Timestamp refused: %v", err)
	}
}

func TestNewTimestampUnderForeignPrefix(t *testing.T) {
	// The parent binds "u" to something else; the Timestamp's own
	// declaration must win so it still reads as wsu:Timestamp.
	parent := parseRoot(t, `<wsse:Security `+declWSSE+` xmlns:u="urn:other"/>`)
	parent.AddChild(NewTimestamp(mustTime(t, "2024-05-01T12:00:00Z"), time.Minute))
	h, err := ParseHeader(parent)
	if err != nil {
		t.Fatal(err)
	}
	if h.Timestamp == nil {
		t.Fatal("Timestamp not recognised under a parent that rebinds its prefix")
	}
}
