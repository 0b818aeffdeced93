package saml

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// Limits on what one assertion may carry; the envelope size limit applies
// first, these keep the model small whatever the input.
const (
	maxAttributes = 1000
	maxValues     = 10000
	maxAudiences  = 100
)

// Parse reads an assertion of either version into the model. Pass only an
// element returned by xmlsec.Verify: Parse checks structure, not signatures
// or times. Conditions it cannot evaluate (anything but audiences and
// validity times, and SAML 1.1 DoNotCache) make the assertion unusable, as
// SAML core requires. Errors are *soap.Fault (InvalidSecurityToken).
func Parse(el *etree.Element) (*Assertion, error) {
	v, err := versionOf(el)
	if err != nil {
		return nil, invalid("not a SAML assertion", err)
	}
	p := &parser{a: &Assertion{Version: v}}
	if v == SAML20 {
		err = p.assertion20(el)
	} else {
		err = p.assertion11(el)
	}
	if err != nil {
		return nil, err
	}
	return p.a, nil
}

type parser struct {
	a      *Assertion
	values int
}

func invalid(reason string, cause error) error {
	return soap.NewFault(soap.InvalidSecurityToken, "malformed SAML assertion: "+reason, cause)
}

func (p *parser) assertion20(el *etree.Element) error {
	a := p.a
	if attr(el, "Version") != "2.0" {
		return invalid("Version must be 2.0", nil)
	}
	if err := p.header(el, IDAttrSAML20); err != nil {
		return err
	}
	issuer, err := onlyChild(el, NamespaceSAML20, "Issuer", true)
	if err != nil {
		return err
	}
	if a.Issuer = strings.TrimSpace(issuer.Text()); a.Issuer == "" {
		return invalid("empty Issuer", nil)
	}

	subj, err := onlyChild(el, NamespaceSAML20, "Subject", true)
	if err != nil {
		return err
	}
	if err := p.subject20(subj); err != nil {
		return err
	}
	if cond, err := onlyChild(el, NamespaceSAML20, "Conditions", false); err != nil {
		return err
	} else if cond != nil {
		if err := p.conditions(cond, NamespaceSAML20, "AudienceRestriction"); err != nil {
			return err
		}
	}
	if err := p.advice(el, NamespaceSAML20); err != nil {
		return err
	}
	if st, err := onlyChild(el, NamespaceSAML20, "AuthnStatement", false); err != nil {
		return err
	} else if st != nil {
		if err := p.authn20(st); err != nil {
			return err
		}
	}
	for _, st := range children(el, NamespaceSAML20, "AttributeStatement") {
		if len(children(st, NamespaceSAML20, "EncryptedAttribute")) > 0 {
			return invalid("encrypted attributes are not supported", nil)
		}
		for _, at := range children(st, NamespaceSAML20, "Attribute") {
			if err := p.attribute(at, "Name", "NameFormat", NamespaceSAML20); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) subject20(subj *etree.Element) error {
	nameID, err := onlyChild(subj, NamespaceSAML20, "NameID", true)
	if err != nil {
		return err
	}
	p.a.Subject = nameIdentifier(nameID)
	if p.a.Subject.NameID == "" {
		return invalid("empty NameID", nil)
	}
	sc, err := onlyChild(subj, NamespaceSAML20, "SubjectConfirmation", true)
	if err != nil {
		return err
	}
	c := &p.a.Confirmation
	var ok bool
	if c.Method, ok = confirmationMethodByURI(attr(sc, "Method")); !ok {
		return invalid("unsupported subject confirmation method", fmt.Errorf("Method %q", attr(sc, "Method")))
	}
	data, err := onlyChild(sc, NamespaceSAML20, "SubjectConfirmationData", false)
	if err != nil {
		return err
	}
	if data == nil {
		if c.Method == HolderOfKey {
			return invalid("holder-of-key confirmation without KeyInfo", nil)
		}
		return nil
	}
	if c.NotOnOrAfter, err = optionalTime(data, "NotOnOrAfter"); err != nil {
		return err
	}
	c.Recipient = attr(data, "Recipient")
	return p.keyInfo(data)
}

func (p *parser) authn20(st *etree.Element) error {
	instant, err := requiredTime(st, "AuthnInstant")
	if err != nil {
		return err
	}
	p.a.Authn = &AuthnStatement{Instant: instant, Method: AuthnUnspecified20}
	ctx, err := onlyChild(st, NamespaceSAML20, "AuthnContext", true)
	if err != nil {
		return err
	}
	if ref, err := onlyChild(ctx, NamespaceSAML20, "AuthnContextClassRef", false); err != nil {
		return err
	} else if ref != nil && strings.TrimSpace(ref.Text()) != "" {
		p.a.Authn.Method = strings.TrimSpace(ref.Text())
	}
	return nil
}

func (p *parser) assertion11(el *etree.Element) error {
	a := p.a
	if attr(el, "MajorVersion") != "1" || (attr(el, "MinorVersion") != "1" && attr(el, "MinorVersion") != "0") {
		return invalid("MajorVersion/MinorVersion must be 1.0 or 1.1", nil)
	}
	if err := p.header(el, IDAttrSAML11); err != nil {
		return err
	}
	if a.Issuer = attr(el, "Issuer"); a.Issuer == "" {
		return invalid("no Issuer", nil)
	}
	if cond, err := onlyChild(el, NamespaceSAML11, "Conditions", false); err != nil {
		return err
	} else if cond != nil {
		if err := p.conditions(cond, NamespaceSAML11, "AudienceRestrictionCondition"); err != nil {
			return err
		}
	}
	if err := p.advice(el, NamespaceSAML11); err != nil {
		return err
	}

	subjects := 0
	for _, st := range el.ChildElements() {
		if st.NamespaceURI() != NamespaceSAML11 || !strings.HasSuffix(st.Tag, "Statement") {
			continue
		}
		if subj, err := onlyChild(st, NamespaceSAML11, "Subject", false); err != nil {
			return err
		} else if subj != nil {
			if err := p.subject11(subj, subjects == 0); err != nil {
				return err
			}
			subjects++
		}
		switch st.Tag {
		case "AuthenticationStatement":
			if a.Authn != nil {
				return invalid("more than one AuthenticationStatement", nil)
			}
			instant, err := requiredTime(st, "AuthenticationInstant")
			if err != nil {
				return err
			}
			a.Authn = &AuthnStatement{Instant: instant, Method: attr(st, "AuthenticationMethod")}
			if a.Authn.Method == "" {
				return invalid("AuthenticationStatement without AuthenticationMethod", nil)
			}
		case "AttributeStatement":
			for _, at := range children(st, NamespaceSAML11, "Attribute") {
				if err := p.attribute(at, "AttributeName", "AttributeNamespace", NamespaceSAML11); err != nil {
					return err
				}
			}
		}
	}
	if subjects == 0 {
		return invalid("no statement with a Subject", nil)
	}
	return nil
}

// subject11 reads the Subject of one statement; every statement must name
// the same subject the same way, or the assertion is ambiguous.
func (p *parser) subject11(subj *etree.Element, first bool) error {
	nameID, err := onlyChild(subj, NamespaceSAML11, "NameIdentifier", true)
	if err != nil {
		return err
	}
	s := nameIdentifier(nameID)
	if s.NameID == "" {
		return invalid("empty NameIdentifier", nil)
	}
	sc, err := onlyChild(subj, NamespaceSAML11, "SubjectConfirmation", true)
	if err != nil {
		return err
	}
	methods := children(sc, NamespaceSAML11, "ConfirmationMethod")
	if len(methods) != 1 {
		return invalid("exactly one ConfirmationMethod is supported", nil)
	}
	method, ok := confirmationMethodByURI(methods[0].Text())
	if !ok {
		return invalid("unsupported subject confirmation method", fmt.Errorf("ConfirmationMethod %q", strings.TrimSpace(methods[0].Text())))
	}
	if !first {
		if s != p.a.Subject || method != p.a.Confirmation.Method {
			return invalid("statements name different subjects", nil)
		}
		return nil
	}
	p.a.Subject, p.a.Confirmation.Method = s, method
	return p.keyInfo(sc)
}

// header reads the ID and IssueInstant both versions carry as attributes.
func (p *parser) header(el *etree.Element, idAttr string) error {
	if p.a.ID = attr(el, idAttr); p.a.ID == "" {
		return invalid("no "+idAttr, nil)
	}
	var err error
	p.a.IssueInstant, err = requiredTime(el, "IssueInstant")
	return err
}

// conditions reads validity times and audiences. Several audience
// restrictions must all hold, so the audiences kept are those named in
// every one of them.
func (p *parser) conditions(cond *etree.Element, ns, audienceTag string) error {
	var err error
	if p.a.NotBefore, err = optionalTime(cond, "NotBefore"); err != nil {
		return err
	}
	if p.a.NotOnOrAfter, err = optionalTime(cond, "NotOnOrAfter"); err != nil {
		return err
	}
	restrictions := 0
	for _, c := range cond.ChildElements() {
		switch {
		case c.NamespaceURI() == ns && c.Tag == audienceTag:
		case ns == NamespaceSAML11 && c.NamespaceURI() == ns && c.Tag == "DoNotCacheCondition":
			continue
		default:
			return invalid("unsupported condition "+c.Tag, nil)
		}
		var auds []string
		for _, aud := range children(c, ns, "Audience") {
			if s := strings.TrimSpace(aud.Text()); s != "" {
				auds = append(auds, s)
			}
		}
		if len(auds) == 0 || len(auds) > maxAudiences {
			return invalid("an audience restriction needs 1 to 100 audiences", nil)
		}
		if restrictions == 0 {
			p.a.Audiences = auds
		} else {
			p.a.Audiences = slices.DeleteFunc(p.a.Audiences, func(s string) bool { return !slices.Contains(auds, s) })
		}
		restrictions++
	}
	if restrictions > 0 && len(p.a.Audiences) == 0 {
		return invalid("audience restrictions have no audience in common", nil)
	}
	return nil
}

func (p *parser) advice(el *etree.Element, ns string) error {
	adv, err := onlyChild(el, ns, "Advice", false)
	if err != nil || adv == nil {
		return err
	}
	if p.a.Advice, err = detachedCopy(adv); err != nil {
		return invalid("unreadable Advice", err)
	}
	return nil
}

// keyInfo takes the ds:KeyInfo of a holder-of-key confirmation.
func (p *parser) keyInfo(parent *etree.Element) error {
	ki, err := onlyChild(parent, NamespaceDSig, "KeyInfo", false)
	if err != nil {
		return err
	}
	if ki == nil {
		if p.a.Confirmation.Method == HolderOfKey {
			return invalid("holder-of-key confirmation without KeyInfo", nil)
		}
		return nil
	}
	if p.a.Confirmation.KeyInfo, err = detachedCopy(ki); err != nil {
		return invalid("unreadable KeyInfo", err)
	}
	return nil
}

func (p *parser) attribute(at *etree.Element, nameAttr, nsAttr, ns string) error {
	if len(p.a.Attributes) >= maxAttributes {
		return invalid("too many attributes", nil)
	}
	out := Attribute{Name: attr(at, nameAttr), Namespace: attr(at, nsAttr)}
	if out.Name == "" {
		return invalid("attribute without "+nameAttr, nil)
	}
	for _, v := range children(at, ns, "AttributeValue") {
		if p.values++; p.values > maxValues {
			return invalid("too many attribute values", nil)
		}
		// Complex values (child elements) are read as their leading text.
		out.Values = append(out.Values, strings.TrimSpace(v.Text()))
	}
	p.a.Attributes = append(p.a.Attributes, out)
	return nil
}

func nameIdentifier(el *etree.Element) Subject {
	return Subject{
		NameID:        strings.TrimSpace(el.Text()),
		Format:        attr(el, "Format"),
		NameQualifier: attr(el, "NameQualifier"),
	}
}

// attr returns the trimmed value of an unprefixed attribute.
func attr(el *etree.Element, name string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

func onlyChild(el *etree.Element, ns, local string, required bool) (*etree.Element, error) {
	cs := children(el, ns, local)
	switch {
	case len(cs) > 1:
		return nil, invalid("more than one "+local, nil)
	case len(cs) == 0 && required:
		return nil, invalid("no "+local, nil)
	case len(cs) == 0:
		return nil, nil
	}
	return cs[0], nil
}

func requiredTime(el *etree.Element, name string) (time.Time, error) {
	t, err := optionalTime(el, name)
	if err == nil && t.IsZero() {
		return t, invalid("no "+name, nil)
	}
	return t, err
}

// optionalTime reads an xs:dateTime with a zone and 0 to 9 fractional
// digits (AD FS sends 3, WWSAPI 7).
func optionalTime(el *etree.Element, name string) (time.Time, error) {
	s := attr(el, name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid("bad "+name, err)
	}
	return t.UTC(), nil
}
