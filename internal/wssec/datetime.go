package wssec

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// dateTimePattern is the xs:dateTime subset WS-Security uses: RFC 3339 with
// 0–7 fractional digits (AD FS and CXF send 3, WWSAPI and WCF 7) and an
// explicit zone. A value without a zone is refused: which local time the
// sender meant is unknowable, and the profile asks for UTC.
var dateTimePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$`)

var errNoZone = errors.New("date has no time zone")

// ParseDateTime parses a wsu:Created or wsu:Expires value after trimming
// surrounding whitespace.
func ParseDateTime(s string) (time.Time, error) {
	v := collapse(s)
	if !dateTimePattern.MatchString(v) {
		if dateTimePattern.MatchString(v + "Z") {
			return time.Time{}, errNoZone
		}
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date with at most 7 fractional digits", truncate(v, 40))
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid date: %w", err)
	}
	return t, nil
}

// FormatDateTime writes t the way AD FS does: UTC, milliseconds, "Z".
func FormatDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// truncate shortens an untrusted value before it is quoted in an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
