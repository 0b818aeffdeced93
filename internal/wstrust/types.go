package wstrust

// Version is a WS-Trust version, taken from the RST's namespace. The zero
// value means "not known".
type Version int

// WS-Trust versions.
const (
	V13   Version = 1 // OASIS WS-Trust 1.3
	V2005 Version = 2 // WS-Trust February 2005
)

// VersionOf returns the version whose namespace is ns, or 0.
func VersionOf(ns string) Version {
	switch ns {
	case Namespace13:
		return V13
	case Namespace2005:
		return V2005
	}
	return 0
}

// Namespace returns the version's namespace (1.3 for an unknown version).
func (v Version) Namespace() string {
	if v == V2005 {
		return Namespace2005
	}
	return Namespace13
}

func (v Version) String() string {
	switch v {
	case V13:
		return "WS-Trust 1.3"
	case V2005:
		return "WS-Trust 2005/02"
	}
	return "unknown WS-Trust version"
}

// RequestType is the normalised wst:RequestType.
type RequestType int

// Request types. RequestOther is a RequestType URI this package does not
// know (the raw value is kept); the issuer refuses it.
const (
	RequestNone RequestType = iota
	RequestIssue
	RequestValidate
	RequestRenew
	RequestCancel
	RequestOther
)

func (t RequestType) String() string {
	switch t {
	case RequestNone:
		return "none"
	case RequestIssue:
		return "Issue"
	case RequestValidate:
		return "Validate"
	case RequestRenew:
		return "Renew"
	case RequestCancel:
		return "Cancel"
	}
	return "other"
}

// requestTypeOf normalises a RequestType URI of either version.
func requestTypeOf(uri string) RequestType {
	switch uri {
	case "":
		return RequestNone
	case RequestTypeIssue13, RequestTypeIssue2005:
		return RequestIssue
	case RequestTypeValidate13, RequestTypeValidate2005:
		return RequestValidate
	case RequestTypeRenew13, RequestTypeRenew2005:
		return RequestRenew
	case RequestTypeCancel13, RequestTypeCancel2005:
		return RequestCancel
	}
	return RequestOther
}

// URI returns the RequestType URI of t in version v ("" for none or other).
func (t RequestType) URI(v Version) string {
	switch t {
	case RequestIssue, RequestValidate, RequestRenew, RequestCancel:
		return v.Namespace() + "/" + t.String()
	}
	return ""
}

// ResponseAction returns the wsa:Action of the answer to a request of type t
// in version v: 1.3 RSTRC/IssueFinal or RSTR/{Validate,Renew,Cancel}Final,
// 2005 RSTR/{Issue,Validate,Renew,Cancel}. "" for none or other.
func (t RequestType) ResponseAction(v Version) string {
	switch t {
	case RequestIssue, RequestValidate, RequestRenew, RequestCancel:
	default:
		return ""
	}
	if v == V2005 {
		return Namespace2005 + "/RSTR/" + t.String()
	}
	if t == RequestIssue {
		return ActionIssueFinal13
	}
	return Namespace13 + "/RSTR/" + t.String() + "Final"
}

// RequestAction returns the wsa:Action of a request of type t in version v.
func (t RequestType) RequestAction(v Version) string {
	switch t {
	case RequestIssue, RequestValidate, RequestRenew, RequestCancel:
		return v.Namespace() + "/RST/" + t.String()
	}
	return ""
}

// KeyType is the normalised wst:KeyType.
type KeyType int

// Key types. KeyNone means the request named none (policy picks one);
// KeyOther is a URI this package does not know.
const (
	KeyNone KeyType = iota
	KeyBearer
	KeySymmetric
	KeyPublic
	KeyOther
)

func (k KeyType) String() string {
	switch k {
	case KeyNone:
		return "none"
	case KeyBearer:
		return "Bearer"
	case KeySymmetric:
		return "SymmetricKey"
	case KeyPublic:
		return "PublicKey"
	}
	return "other"
}

// keyTypeOf normalises a KeyType URI. Both versions' URIs are accepted in
// both versions (clients mix them); NoProofKey is bearer.
func keyTypeOf(uri string) KeyType {
	switch uri {
	case "":
		return KeyNone
	case KeyTypeBearer13, KeyTypeNoProofKey2005:
		return KeyBearer
	case KeyTypeSymmetric13, KeyTypeSymmetric2005:
		return KeySymmetric
	case KeyTypePublic13, KeyTypePublic2005:
		return KeyPublic
	}
	return KeyOther
}

// URI returns the KeyType URI of k in version v: a 2005 bearer answer carries
// NoProofKey, a 1.3 one Bearer. "" for none or other.
func (k KeyType) URI(v Version) string {
	switch k {
	case KeyBearer:
		if v == V2005 {
			return KeyTypeNoProofKey2005
		}
		return KeyTypeBearer13
	case KeySymmetric, KeyPublic:
		return v.Namespace() + "/" + k.String()
	}
	return ""
}

// TokenKind is the normalised wst:TokenType.
type TokenKind int

// Token kinds. TokenNone: the request named no type (ADAL and MSAL never
// do; the relying party's configuration decides). TokenOther: a type this
// package does not know, e.g. a SecurityContextToken.
const (
	TokenNone TokenKind = iota
	TokenSAML20
	TokenSAML11
	TokenStatus
	TokenOther
)

func (k TokenKind) String() string {
	switch k {
	case TokenNone:
		return "none"
	case TokenSAML20:
		return "SAML20"
	case TokenSAML11:
		return "SAML11"
	case TokenStatus:
		return "Status"
	}
	return "other"
}

// TokenKindOf normalises a TokenType URI (whitespace already collapsed).
func TokenKindOf(uri string) TokenKind {
	switch uri {
	case "":
		return TokenNone
	case TokenTypeSAML20, TokenTypeSAML20Profile:
		return TokenSAML20
	case TokenTypeSAML11, TokenTypeSAML11Profile:
		return TokenSAML11
	case TokenTypeStatus13, TokenTypeStatus2005:
		return TokenStatus
	}
	return TokenOther
}

// DefaultURI returns the TokenType URI an RSTR carries for k when the client
// asked for none: the urn:oasis:names:tc:SAML form, as AD FS answers (ADAL
// and MSAL accept only that). "" for other kinds.
func (k TokenKind) DefaultURI(v Version) string {
	switch k {
	case TokenSAML20:
		return TokenTypeSAML20
	case TokenSAML11:
		return TokenTypeSAML11
	case TokenStatus:
		if v == V2005 {
			return TokenTypeStatus2005
		}
		return TokenTypeStatus13
	}
	return ""
}
