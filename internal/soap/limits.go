package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits bound what Parse accepts before it builds a tree. A zero field takes
// its default.
type Limits struct {
	// MaxBytes is the largest message, in bytes (default 1 MiB).
	MaxBytes int64
	// MaxDepth is the deepest element nesting, the Envelope being depth 1
	// (default 64).
	MaxDepth int
	// MaxElements is the most elements in the message (default 10,000).
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
)

// MalformedError is Scan's error for input encoding/xml cannot read.
type MalformedError struct {
	Err error // the decoder's error
}

func (e *MalformedError) Error() string { return "malformed XML: " + e.Err.Error() }

func (e *MalformedError) Unwrap() error { return e.Err }

// Scan reads data token by token with encoding/xml before any tree is built,
// and refuses what must never reach a tree: DTDs and entity declarations
// (billion laughs, external entities), processing instructions other than
// an XML declaration before the root element (SOAP forbids them), documents
// deeper or larger than lim (zero fields take the defaults), and anything
// that is not one well-formed root element. Undefined entity references
// fail in the strict decoder. A non-UTF-8 encoding declaration fails
// because no charset reader is set. Parse runs it on every request; it is
// also the check for XML read from elsewhere, such as decrypted content.
func Scan(data []byte, lim Limits) error {
	lim = lim.WithDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return fmt.Errorf("%w of %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	depth, elements, roots := 0, 0, 0
	for {
		tok, err := dec.RawToken() // the tree parse that follows checks tag matching and namespaces
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &MalformedError{Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			if depth == 1 {
				roots++
				if roots > 1 {
					return ErrNotOneRoot
				}
			}
			if depth > lim.MaxDepth {
				return fmt.Errorf("%w of %d", ErrTooDeep, lim.MaxDepth)
			}
			if elements > lim.MaxElements {
				return fmt.Errorf("%w of %d", ErrTooManyElems, lim.MaxElements)
			}
			if len(t.Attr) > lim.MaxAttributes {
				return fmt.Errorf("%w of %d", ErrTooManyAttrs, lim.MaxAttributes)
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return ErrDTD
		case xml.ProcInst:
			// Only the XML declaration, and only before the root element.
			if t.Target != "xml" || elements > 0 {
				return fmt.Errorf("%w <?%s?>", ErrProcInst, t.Target)
			}
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(t)) != "" {
				return ErrTextOutsideDoc
			}
		}
	}
	if roots != 1 {
		return ErrNotOneRoot
	}
	return nil
}
