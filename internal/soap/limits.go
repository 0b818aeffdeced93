package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits bound what Parse accepts before it builds a tree. A zero field takes
// its default.
type Limits struct {
	// MaxBytes is the largest message, in bytes (default 1 MiB).
	MaxBytes int64
	// MaxDepth is the deepest element nesting, the Envelope being depth 1
	// (default 64).
	MaxDepth int
	// MaxElements is the most elements in the message, comments and CDATA
	// sections counted with them (default 10,000).
	MaxElements int
	// MaxAttributes is the most attributes, namespace declarations
	// included, on one element (default 128). It bounds the cost of
	// resolving a prefix, which scans the attributes of every ancestor.
	MaxAttributes int
}

// Default limits: a WS-Trust request with a SAML assertion in its header is a
// few kilobytes and a few hundred elements deep at most 15.
const (
	DefaultMaxBytes    = 1 << 20
	DefaultMaxDepth    = 64
	DefaultMaxElements = 10000
	// DefaultMaxAttributes is generous: real envelopes and SAML assertions
	// carry fewer than 20 attributes per element.
	DefaultMaxAttributes = 128
)

// DefaultLimits returns the limits Parse uses for zero fields.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxDepth: DefaultMaxDepth, MaxElements: DefaultMaxElements, MaxAttributes: DefaultMaxAttributes}
}

// WithDefaults returns l with its zero or negative fields set to the
// defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	return l
}

// Errors of the pre-scan; they are wrapped as the Cause of a Sender fault.
var (
	ErrTooLarge       = errors.New("message exceeds the size limit")
	ErrTooDeep        = errors.New("message exceeds the nesting depth limit")
	ErrTooManyElems   = errors.New("message exceeds the element count limit")
	ErrTooManyAttrs   = errors.New("element exceeds the attribute count limit")
	ErrDTD            = errors.New("message contains a DTD or entity declaration")
	ErrProcInst       = errors.New("message contains a processing instruction")
	ErrNotOneRoot     = errors.New("message does not have exactly one root element")
	ErrTextOutsideDoc = errors.New("message has text outside the root element")
	// ErrNotUTF8 is an XML declaration naming another encoding: the bytes
	// are read as UTF-8 whatever it says, so they would be misread.
	ErrNotUTF8 = errors.New("the XML declaration names an encoding other than UTF-8")
)

// Errors of the pre-scan for XML that XML Namespaces 1.0 forbids although
// the decoder reads it; Parse answers them with wst:InvalidRequest.
var (
	// ErrDuplicateAttr is one element with the same attribute twice, by
	// qualified name or through two prefixes bound to one namespace. The
	// tree keeps only one of them, so a signature check and the code that
	// reads the value could each see a different one.
	ErrDuplicateAttr = errors.New("an element has the same attribute twice")
	// ErrReservedNamespace is a declaration that rebinds the xml prefix,
	// binds another prefix (or the default) to the xml or xmlns namespace,
	// or declares the xmlns prefix.
	ErrReservedNamespace = errors.New("a namespace declaration misuses a reserved prefix or namespace")
	// ErrNotQName is an element or attribute name with a colon at its start
	// or end, which the tokenizer (as encoding/xml) reads as an unprefixed
	// name.
	ErrNotQName = errors.New("a name is not a qualified name")
)

// MalformedError is Scan's error for input that is not well-formed XML.
type MalformedError struct {
	Err error // the decoder's error
}

// Error says where the input stopped being XML, not what the decoder saw
// there: its message can quote the input (an entity in a password, say),
// and this error reaches the log.
func (e *MalformedError) Error() string {
	var syntax *xml.SyntaxError
	if errors.As(e.Err, &syntax) {
		return fmt.Sprintf("malformed XML on line %d", syntax.Line)
	}
	return "malformed XML"
}

func (e *MalformedError) Unwrap() error { return e.Err }

// namespaceXMLNS is the namespace of namespace declarations themselves.
const namespaceXMLNS = "http://www.w3.org/2000/xmlns/"

// pairwiseAttrs is the attribute count up to which checkAttrs compares
// names pair by pair; above it a set is cheaper. Real elements carry fewer.
const pairwiseAttrs = 16

// maxNameInError bounds an element or attribute name quoted in an error:
// names are the sender's and XML sets no length on them.
const maxNameInError = 64

// linearBindings is how many prefix bindings in scope nsScope searches one
// by one; beyond that it indexes them in a map, so that a lookup stays cheap
// however many declarations a sender piles up.
const linearBindings = 16

// nsScope tracks the prefix bindings in scope while Scan reads raw tokens,
// which leave names unresolved. Real messages keep a handful in scope: one
// allocation per message holds them, and a lookup is a short linear search.
type nsScope struct {
	bindings []binding        // in document order; an element's are popped at its end
	inner    map[string]int32 // prefix -> index of its innermost binding; nil until there are many
	seen     map[attrKey]struct{}
}

type binding struct {
	prefix, uri string
	depth       int32
	outer       int32 // index of the binding it shadows, -1 for none; maintained once inner is built
}

// attrKey is an attribute's expanded name, or its prefix when no
// declaration binds it (a fragment's context may).
type attrKey struct {
	space, local string
	resolved     bool
}

// checkAttrs records the declarations on an element at depth and checks
// its attributes; the element's own declarations apply to them.
func (s *nsScope) checkAttrs(attrs []rawAttr, depth int) error {
	for _, a := range attrs {
		switch {
		case a.Name.Space == "xmlns":
			if err := s.declare(a.Name.Local, a.Value, depth); err != nil {
				return err
			}
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			if a.Value == namespaceXML || a.Value == namespaceXMLNS {
				return fmt.Errorf("%w: the default namespace is reserved", ErrReservedNamespace)
			}
		}
	}
	if len(attrs) <= pairwiseAttrs {
		for i := 1; i < len(attrs); i++ {
			for j := range i {
				if attrs[i].Name.Local == attrs[j].Name.Local && s.sameSpace(attrs[i].Name.Space, attrs[j].Name.Space) {
					return duplicateAttr(attrs[i].Name)
				}
			}
		}
		return nil
	}
	if s.seen == nil {
		s.seen = make(map[attrKey]struct{}, len(attrs))
	} else {
		clear(s.seen)
	}
	for _, a := range attrs {
		k := s.key(a.Name)
		if _, dup := s.seen[k]; dup {
			return duplicateAttr(a.Name)
		}
		s.seen[k] = struct{}{}
	}
	return nil
}

// declare checks xmlns:prefix="uri" and brings it into scope.
func (s *nsScope) declare(prefix, uri string, depth int) error {
	switch {
	case prefix == "xmlns":
		return fmt.Errorf("%w: the xmlns prefix is declared", ErrReservedNamespace)
	case prefix == "xml":
		if uri != namespaceXML {
			return fmt.Errorf("%w: the xml prefix is bound to another namespace", ErrReservedNamespace)
		}
		return nil // bound by definition; resolve never looks it up
	case uri == namespaceXML || uri == namespaceXMLNS:
		return fmt.Errorf("%w: prefix %s is bound to a reserved namespace", ErrReservedNamespace, boundedName(xml.Name{Local: prefix}))
	}
	b := binding{prefix: prefix, uri: uri, depth: int32(depth), outer: -1}
	if s.inner != nil {
		if o, ok := s.inner[prefix]; ok {
			b.outer = o
		}
		s.inner[prefix] = int32(len(s.bindings))
	}
	s.bindings = append(s.bindings, b)
	if s.inner == nil && len(s.bindings) > linearBindings {
		s.inner = make(map[string]int32, 2*len(s.bindings))
		for i := range s.bindings {
			if o, ok := s.inner[s.bindings[i].prefix]; ok {
				s.bindings[i].outer = o
			}
			s.inner[s.bindings[i].prefix] = int32(i)
		}
	}
	return nil
}

// end takes the declarations of the element at depth out of scope.
func (s *nsScope) end(depth int) {
	n := len(s.bindings)
	for n > 0 && s.bindings[n-1].depth == int32(depth) {
		n--
		if b := s.bindings[n]; s.inner != nil {
			if b.outer < 0 {
				delete(s.inner, b.prefix)
			} else {
				s.inner[b.prefix] = b.outer
			}
		}
	}
	s.bindings = s.bindings[:n]
}

// resolve returns the namespace a prefix is bound to.
func (s *nsScope) resolve(prefix string) (string, bool) {
	if prefix == "xml" {
		return namespaceXML, true
	}
	if s.inner != nil {
		i, ok := s.inner[prefix]
		if !ok {
			return "", false
		}
		return s.bindings[i].uri, true
	}
	for i := len(s.bindings) - 1; i >= 0; i-- {
		if s.bindings[i].prefix == prefix {
			return s.bindings[i].uri, true
		}
	}
	return "", false
}

// sameSpace reports whether two attribute prefixes name one namespace.
// Unprefixed attributes are in no namespace, and declarations (xmlns:) in
// their own.
func (s *nsScope) sameSpace(p, q string) bool {
	if p == q {
		return true
	}
	if p == "" || q == "" || p == "xmlns" || q == "xmlns" {
		return false
	}
	u, okp := s.resolve(p)
	v, okq := s.resolve(q)
	return okp && okq && u == v
}

// key returns an attribute's name as sameSpace compares it.
func (s *nsScope) key(n xml.Name) attrKey {
	if n.Space != "" && n.Space != "xmlns" {
		if uri, ok := s.resolve(n.Space); ok {
			return attrKey{space: uri, local: n.Local, resolved: true}
		}
	}
	return attrKey{space: n.Space, local: n.Local}
}

func duplicateAttr(n xml.Name) error {
	return fmt.Errorf("%w: %s", ErrDuplicateAttr, boundedName(n))
}

// boundedName returns a qualified name cut to maxNameInError bytes.
func boundedName(n xml.Name) string {
	q := n.Local
	if n.Space != "" {
		q = n.Space + ":" + n.Local
	}
	if len(q) <= maxNameInError {
		return q
	}
	cut := maxNameInError
	for cut > 0 && !utf8.RuneStart(q[cut]) {
		cut--
	}
	return q[:cut] + "..."
}
