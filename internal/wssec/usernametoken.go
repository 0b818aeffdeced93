package wssec

import (
	"crypto/sha1" // the UsernameToken profile defines PasswordDigest with SHA-1; not a signature choice
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// Secret holds a password as received. Its String, GoString, LogValue and
// MarshalText hide the value, so printing or logging a token by accident
// does not leak it; convert with string(s) where the value is needed.
type Secret string

const redacted = "[redacted]"

// String hides the value from %v and %s.
func (Secret) String() string { return redacted }

// GoString hides the value from %#v.
func (Secret) GoString() string { return redacted }

// LogValue hides the value from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the value from encoders such as encoding/json.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UsernameToken is a wsse:UsernameToken (UsernameToken profile 1.0/1.1).
type UsernameToken struct {
	// ID is the wsu:Id, if any.
	ID string
	// Username with surrounding whitespace removed.
	Username string
	// HasPassword is false for a token without a Password element.
	HasPassword bool
	// Password is the clear text for PasswordText and the base64 digest for
	// PasswordDigest, exactly as sent.
	Password Secret
	// PasswordType is PasswordText or PasswordDigest; a Password without a
	// Type attribute is PasswordText, as ADAL and MSAL send it. Empty when
	// HasPassword is false.
	PasswordType string
	// Nonce is the decoded wsse:Nonce, nil when absent.
	Nonce []byte
	// Created is the wsu:Created time, zero when absent.
	Created time.Time
	// CreatedText is wsu:Created exactly as sent: the digest covers these
	// characters, not the parsed time.
	CreatedText string
	// Element is the wsse:UsernameToken as received. It holds the password
	// too, so it is left out of JSON.
	Element *etree.Element `json:"-"`
}

// String describes the token without its password.
func (ut UsernameToken) String() string {
	return fmt.Sprintf("UsernameToken{ID:%q Username:%q PasswordType:%q Nonce:%d bytes Created:%q}",
		ut.ID, ut.Username, ut.PasswordType, len(ut.Nonce), ut.CreatedText)
}

// LogValue describes the token to log/slog without its password.
func (ut UsernameToken) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", ut.ID),
		slog.String("username", ut.Username),
		slog.String("passwordType", ut.PasswordType),
		slog.Int("nonceBytes", len(ut.Nonce)),
		slog.String("created", ut.CreatedText),
	)
}

// IsDigest reports whether the token carries a PasswordDigest.
func (ut *UsernameToken) IsDigest() bool {
	return ut.HasPassword && ut.PasswordType == PasswordDigest
}

func utFault(reason string, cause error) error {
	return soap.NewFault(soap.InvalidSecurityToken, "UsernameToken "+reason, cause)
}

// parseUsernameToken reads a UsernameToken. Errors never quote the password:
// a fault's Cause reaches the log.
func parseUsernameToken(el *etree.Element) (*UsernameToken, error) {
	ut := &UsernameToken{ID: soap.ElementID(el), Element: el}
	var haveUser, haveNonce, haveCreated bool
	for _, c := range el.ChildElements() {
		switch {
		case soap.IsElement(c, NSSecExt, "Username"):
			if haveUser {
				return nil, utFault("has more than one Username", nil)
			}
			haveUser = true
			s, err := textContent(c)
			if err != nil {
				return nil, utFault("Username is not text", err)
			}
			ut.Username = collapse(s)
		case soap.IsElement(c, NSSecExt, "Password"):
			if ut.HasPassword {
				return nil, utFault("has more than one Password", nil)
			}
			if err := readPassword(ut, c); err != nil {
				return nil, err
			}
		case soap.IsElement(c, NSSecExt, "Nonce"):
			if haveNonce {
				return nil, utFault("has more than one Nonce", nil)
			}
			haveNonce = true
			nonce, err := readNonce(c)
			if err != nil {
				return nil, err
			}
			ut.Nonce = nonce
		case soap.IsElement(c, NSUtility, "Created"):
			if haveCreated {
				return nil, utFault("has more than one Created", nil)
			}
			haveCreated = true
			s, err := textContent(c)
			if err != nil {
				return nil, utFault("Created is not text", err)
			}
			t, err := ParseDateTime(s)
			if err != nil {
				return nil, utFault("Created is not a valid date", err)
			}
			ut.Created, ut.CreatedText = t, s
		}
	}
	if !haveUser || ut.Username == "" {
		return nil, utFault("has no Username", nil)
	}
	return ut, nil
}

func readPassword(ut *UsernameToken, el *etree.Element) error {
	typ := PasswordText
	if v, ok := soap.AttrNS(el, "", "Type"); ok {
		typ = collapse(v)
	}
	if typ != PasswordText && typ != PasswordDigest {
		// The Type is not quoted: a client that mixed up its fields may
		// have put the password there.
		return utFault("Password Type is not supported", errors.New("the Password Type is neither PasswordText nor PasswordDigest"))
	}
	s, err := textContent(el)
	if err != nil {
		// textContent's errors never include the content.
		return utFault("Password is not text", err)
	}
	ut.HasPassword, ut.PasswordType, ut.Password = true, typ, Secret(s)
	return nil
}

func readNonce(el *etree.Element) ([]byte, error) {
	if v, ok := soap.AttrNS(el, "", "EncodingType"); ok && collapse(v) != EncodingBase64Binary {
		return nil, utFault("Nonce EncodingType is not supported", fmt.Errorf("encoding %q", truncate(collapse(v), 120)))
	}
	s, err := textContent(el)
	if err != nil {
		return nil, utFault("Nonce is not text", err)
	}
	nonce, err := decodeBase64(s, MaxNonceSize)
	if errors.Is(err, errTooLarge) {
		return nil, utFault("Nonce is too long", err)
	}
	if err != nil {
		return nil, utFault("Nonce is not valid base64", err)
	}
	if len(nonce) == 0 {
		return nil, utFault("Nonce is empty", nil)
	}
	return nonce, nil
}

// PasswordDigestOf computes Base64(SHA-1(nonce + created + password)), the
// PasswordDigest of the UsernameToken profile, with created exactly as it
// appears in the token.
func PasswordDigestOf(nonce []byte, created, password string) string {
	sum := digest(nonce, created, password)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func digest(nonce []byte, created, password string) [sha1.Size]byte {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	return sum
}

// VerifyDigest reports whether ut's PasswordDigest matches plainPassword,
// comparing in constant time. It is false for a token that is not a digest
// token or lacks a Nonce or Created: the profile allows both to be omitted,
// but the digest would then be a fixed, replayable function of the password.
func VerifyDigest(ut *UsernameToken, plainPassword string) bool {
	if ut == nil || !ut.IsDigest() || len(ut.Nonce) == 0 || ut.CreatedText == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(collapse(string(ut.Password)))
	if err != nil || len(got) != sha1.Size {
		return false
	}
	want := digest(ut.Nonce, ut.CreatedText, plainPassword)
	return subtle.ConstantTimeCompare(got, want[:]) == 1
}

// CheckUsernameTokenFreshness checks the token's wsu:Created at now: not in
// the future beyond maxSkew, and not older than maxAge plus maxSkew. Digest
// tokens must carry Created and a Nonce (otherwise the digest can be
// replayed forever); for PasswordText tokens Created is optional and checked
// only when present.
func CheckUsernameTokenFreshness(ut *UsernameToken, now time.Time, maxSkew, maxAge time.Duration) error {
	if ut.CreatedText == "" {
		if ut.IsDigest() {
			return utFault("with PasswordDigest has no Created", nil)
		}
		return nil
	}
	if ut.IsDigest() && len(ut.Nonce) == 0 {
		return utFault("with PasswordDigest has no Nonce", nil)
	}
	if ut.Created.After(now.Add(maxSkew)) {
		return soap.NewFault(soap.InvalidSecurity, "UsernameToken Created is in the future",
			fmt.Errorf("created %s, now %s, max skew %s", FormatDateTime(ut.Created), FormatDateTime(now), maxSkew))
	}
	if now.After(ut.Created.Add(maxAge + maxSkew)) {
		return soap.NewFault(soap.MessageExpired, "UsernameToken has expired",
			fmt.Errorf("created %s, now %s, max age %s, max skew %s", FormatDateTime(ut.Created), FormatDateTime(now), maxAge, maxSkew))
	}
	return nil
}
