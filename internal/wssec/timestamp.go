package wssec

import (
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// DefaultMaxMessageAge is how old a message may be, by its Timestamp's
// Created, when the policy names no other bound: WSS4J uses the same 300
// seconds. It also caps a far-away Expires, so that a captured message
// cannot be replayed for long once its replay record is gone.
const DefaultMaxMessageAge = 5 * time.Minute

// maxMessageAge is d, or DefaultMaxMessageAge when d is not positive: the
// one place that default is applied.
func maxMessageAge(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return DefaultMaxMessageAge
}

// ResponseTimestampWindow is the lifetime of the Timestamp in a response,
// as AD FS writes it.
const ResponseTimestampWindow = 5 * time.Minute

// ResponseTimestampID is the wsu:Id AD FS gives its response Timestamp.
const ResponseTimestampID = "_0"

// Timestamp is a wsu:Timestamp of the Security header.
type Timestamp struct {
	// ID is the wsu:Id, by which a signature references the Timestamp.
	ID      string
	Created time.Time
	// Expires is the zero time when the sender gave none.
	Expires time.Time
	// Element is the wsu:Timestamp as received.
	Element *etree.Element
}

// Deadline is the instant after which the Timestamp is no longer
// acceptable, before allowing for clock skew: Expires, but no later than
// Created plus maxAge (DefaultMaxMessageAge when zero).
func (ts *Timestamp) Deadline(maxAge time.Duration) time.Time {
	limit := ts.Created.Add(maxMessageAge(maxAge))
	if ts.Expires.IsZero() || ts.Expires.After(limit) {
		return limit
	}
	return ts.Expires
}

// parseTimestamp reads a wsu:Timestamp: exactly one Created (WS-I BSP R3203),
// at most one Expires, which must lie after Created. Other children are
// ignored, as the schema allows extensions.
func parseTimestamp(el *etree.Element) (*Timestamp, error) {
	ts := &Timestamp{ID: soap.ElementID(el), Element: el}
	var haveCreated, haveExpires bool
	for _, c := range el.ChildElements() {
		var dst *time.Time
		switch {
		case soap.IsElement(c, NSUtility, "Created"):
			if haveCreated {
				return nil, soap.NewFault(soap.InvalidSecurity, "Timestamp has more than one Created", nil)
			}
			haveCreated, dst = true, &ts.Created
		case soap.IsElement(c, NSUtility, "Expires"):
			if haveExpires {
				return nil, soap.NewFault(soap.InvalidSecurity, "Timestamp has more than one Expires", nil)
			}
			haveExpires, dst = true, &ts.Expires
		default:
			continue
		}
		t, err := parseDateElement(c)
		if err != nil {
			return nil, soap.NewFault(soap.InvalidSecurity, "Timestamp "+c.Tag+" is not a valid date", err)
		}
		*dst = t
	}
	if !haveCreated {
		return nil, soap.NewFault(soap.InvalidSecurity, "Timestamp has no Created", nil)
	}
	if haveExpires && !ts.Expires.After(ts.Created) {
		return nil, soap.NewFault(soap.InvalidSecurity, "Timestamp Expires is not after Created",
			fmt.Errorf("created %s, expires %s", FormatDateTime(ts.Created), FormatDateTime(ts.Expires)))
	}
	return ts, nil
}

func parseDateElement(el *etree.Element) (time.Time, error) {
	s, err := textContent(el)
	if err != nil {
		return time.Time{}, err
	}
	return ParseDateTime(s)
}

// CheckTimestamp decides whether a message's Timestamp is acceptable at now,
// allowing maxSkew of clock difference in either direction: Created must
// not lie in the future, and the Deadline (Expires, capped at Created plus
// maxAge) must not have passed. A missing Timestamp is refused; callers
// whose policy makes it optional skip the call.
func CheckTimestamp(ts *Timestamp, now time.Time, maxSkew, maxAge time.Duration) error {
	if ts == nil {
		return soap.NewFault(soap.InvalidSecurity, "the Security header has no Timestamp", nil)
	}
	if !ts.Expires.IsZero() && !ts.Expires.After(ts.Created) {
		// Also checked when parsing; repeated for Timestamps built by hand.
		return soap.NewFault(soap.InvalidSecurity, "Timestamp Expires is not after Created", nil)
	}
	if ts.Created.After(now.Add(maxSkew)) {
		return soap.NewFault(soap.InvalidSecurity, "Timestamp Created is in the future",
			fmt.Errorf("created %s, now %s, max skew %s", FormatDateTime(ts.Created), FormatDateTime(now), maxSkew))
	}
	if deadline := ts.Deadline(maxAge); now.After(deadline.Add(maxSkew)) {
		return soap.NewFault(soap.MessageExpired, "the message has expired",
			fmt.Errorf("created %s, deadline %s, now %s, max age %s, max skew %s", FormatDateTime(ts.Created), FormatDateTime(deadline), FormatDateTime(now), maxAge, maxSkew))
	}
	return nil
}

// NewTimestamp builds a wsu:Timestamp with wsu:Id "_0", Created = now and
// Expires = now + window, both in milliseconds and UTC. It declares the
// utility namespace itself (prefix "u", as AD FS writes it), so it can be
// placed under any parent.
func NewTimestamp(now time.Time, window time.Duration) *etree.Element {
	created := now.UTC().Truncate(time.Millisecond)
	ts := etree.NewElement("u:Timestamp")
	ts.CreateAttr("xmlns:u", NSUtility)
	ts.CreateAttr("u:Id", ResponseTimestampID)
	ts.CreateElement("u:Created").SetText(FormatDateTime(created))
	ts.CreateElement("u:Expires").SetText(FormatDateTime(created.Add(window)))
	return ts
}

// NewResponseTimestamp is NewTimestamp with the 5-minute window AD FS uses.
func NewResponseTimestamp(now time.Time) *etree.Element {
	return NewTimestamp(now, ResponseTimestampWindow)
}

// NewSecurity returns an empty wsse:Security element declaring the secext
// namespace (prefix "o", as AD FS writes it). The SOAP layer adds
// mustUnderstand, whose prefix belongs to the envelope.
func NewSecurity() *etree.Element {
	sec := etree.NewElement("o:Security")
	sec.CreateAttr("xmlns:o", NSSecExt)
	return sec
}
