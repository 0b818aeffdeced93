// Package saml builds, signs and reads SAML 1.1 and SAML 2.0 assertions
// through one version-neutral model.
package saml

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
)

// Version is a SAML assertion version.
type Version int

// Supported versions.
const (
	SAML20 Version = iota + 1
	SAML11
)

func (v Version) String() string {
	switch v {
	case SAML20:
		return "SAML 2.0"
	case SAML11:
		return "SAML 1.1"
	}
	return "unknown SAML version"
}

// Namespace is the version's assertion namespace.
func (v Version) Namespace() string {
	if v == SAML11 {
		return NamespaceSAML11
	}
	return NamespaceSAML20
}

// IDAttr is the name of the version's assertion ID attribute.
func (v Version) IDAttr() string {
	if v == SAML11 {
		return IDAttrSAML11
	}
	return IDAttrSAML20
}

// Assertion is what both versions say, in one shape.
type Assertion struct {
	// Version is set by Parse; builders are chosen by the caller.
	Version      Version
	ID           string
	IssueInstant time.Time
	Issuer       string
	Subject      Subject
	Confirmation SubjectConfirmation
	// NotBefore and NotOnOrAfter bound the assertion (Conditions); a zero
	// value leaves the bound out.
	NotBefore    time.Time
	NotOnOrAfter time.Time
	// Audiences restrict who may rely on the assertion; one restriction
	// holding all of them (any one suffices).
	Audiences  []string
	Authn      *AuthnStatement
	Attributes []Attribute
	// Advice is a saml:Advice element of either version; builders copy its
	// children (e.g. the assertions a token was derived from).
	Advice *etree.Element
}

// Subject names the principal.
type Subject struct {
	NameID        string
	Format        string // URI; empty leaves Format out
	NameQualifier string // optional
}

// SubjectConfirmation says how the subject is confirmed.
type SubjectConfirmation struct {
	Method ConfirmationMethod
	// KeyInfo is the ds:KeyInfo of the proof key (holder-of-key only).
	KeyInfo *etree.Element
	// SAML 2.0 SubjectConfirmationData; zero or empty values are left out.
	NotOnOrAfter time.Time
	Recipient    string
}

// AuthnStatement records how and when the subject authenticated.
type AuthnStatement struct {
	Instant time.Time
	Method  string // URI of the version issued; see AuthnMethodURI
}

// Attribute is one named attribute with its values.
type Attribute struct {
	Name string
	// Namespace is the SAML 2.0 NameFormat (optional) or the SAML 1.1
	// AttributeNamespace (required).
	Namespace string
	Values    []string
}

// NewID returns a fresh assertion ID: "_" and 128 random bits in hex, a
// valid NCName for both versions.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return "_" + hex.EncodeToString(b[:])
}

// timeLayout is UTC with milliseconds, the form AD FS and CXF emit.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// checkCommon validates the fields both builders require.
func (a *Assertion) checkCommon() error {
	switch {
	case a == nil:
		return errors.New("saml: no assertion")
	case !isNCName(a.ID):
		return fmt.Errorf("saml: assertion ID %q is not an NCName", a.ID)
	case a.IssueInstant.IsZero():
		return errors.New("saml: assertion has no IssueInstant")
	case a.Issuer == "":
		return errors.New("saml: assertion has no Issuer")
	case a.Subject.NameID == "":
		return errors.New("saml: assertion has no subject NameID")
	case a.Confirmation.Method.URI(SAML20) == "":
		return fmt.Errorf("saml: unknown confirmation method %d", a.Confirmation.Method)
	case a.Confirmation.Method == HolderOfKey && a.Confirmation.KeyInfo == nil:
		return errors.New("saml: holder-of-key confirmation needs a KeyInfo")
	case !a.NotBefore.IsZero() && !a.NotOnOrAfter.IsZero() && !a.NotBefore.Before(a.NotOnOrAfter):
		return errors.New("saml: NotBefore is not before NotOnOrAfter")
	case a.Authn != nil && (a.Authn.Instant.IsZero() || a.Authn.Method == ""):
		return errors.New("saml: authentication statement needs an instant and a method")
	}
	for _, at := range a.Attributes {
		if at.Name == "" {
			return errors.New("saml: attribute without a name")
		}
	}
	return nil
}

// isNCName accepts the ASCII subset of XML NCNames, which is all NewID and
// common issuers produce.
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if i == 0 {
			if !letter {
				return false
			}
			continue
		}
		if !letter && r != '-' && r != '.' && !(r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
