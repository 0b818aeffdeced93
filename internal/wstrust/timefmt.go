package wstrust

import (
	"fmt"
	"strings"
	"time"
)

// timeLayout is how Lifetime instants are written: UTC, milliseconds, Z
// (AD FS, CXF and eHealth all use it: 2013-11-15T03:08:25.205Z).
const timeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t as a WS-Security instant: UTC with milliseconds and Z.
func FormatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

// ParseTime reads an xs:dateTime instant with a time zone and 0 to 9
// fractional digits (WWSAPI sends 7). Surrounding whitespace is ignored.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("not an xs:dateTime with a time zone: %w", err)
	}
	return t.UTC(), nil
}
