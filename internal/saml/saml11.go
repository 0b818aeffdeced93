package saml

import (
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

const prefix11 = "saml"

// BuildSAML11 writes a as an unsigned SAML 1.1 assertion in the shape AD FS
// issues: Conditions with AudienceRestrictionCondition, Advice, then an
// AttributeStatement and an AuthenticationStatement, each carrying the
// Subject. SAML 1.1 cannot express an attribute without values or without
// a namespace: the former is left out, the latter is an error. Sign it with
// Sign (the signature goes last).
func BuildSAML11(a *Assertion) (*etree.Element, error) {
	if err := a.checkCommon(); err != nil {
		return nil, err
	}
	var attrs []Attribute
	for _, at := range a.Attributes {
		if at.Namespace == "" {
			return nil, fmt.Errorf("saml: SAML 1.1 attribute %q needs a namespace", at.Name)
		}
		if len(at.Values) > 0 {
			attrs = append(attrs, at)
		}
	}
	if len(attrs) == 0 && a.Authn == nil {
		return nil, errors.New("saml: a SAML 1.1 assertion needs an attribute or an authentication statement")
	}

	root := &etree.Element{Space: prefix11, Tag: "Assertion"}
	root.CreateAttr("xmlns:"+prefix11, NamespaceSAML11)
	root.CreateAttr("MajorVersion", "1")
	root.CreateAttr("MinorVersion", "1")
	root.CreateAttr("AssertionID", a.ID)
	root.CreateAttr("Issuer", a.Issuer)
	root.CreateAttr("IssueInstant", formatTime(a.IssueInstant))

	appendConditions(root, prefix11, "AudienceRestrictionCondition", a)
	if err := appendAdvice(root, prefix11, a.Advice); err != nil {
		return nil, err
	}
	if len(attrs) > 0 {
		st := child(root, prefix11, "AttributeStatement")
		if err := subject11(st, a); err != nil {
			return nil, err
		}
		for _, at := range attrs {
			attr := child(st, prefix11, "Attribute")
			attr.CreateAttr("AttributeName", at.Name)
			attr.CreateAttr("AttributeNamespace", at.Namespace)
			for _, v := range at.Values {
				child(attr, prefix11, "AttributeValue").SetText(v)
			}
		}
	}
	if a.Authn != nil {
		st := child(root, prefix11, "AuthenticationStatement")
		st.CreateAttr("AuthenticationMethod", a.Authn.Method)
		st.CreateAttr("AuthenticationInstant", formatTime(a.Authn.Instant))
		if err := subject11(st, a); err != nil {
			return nil, err
		}
	}
	return root, nil
}

func subject11(statement *etree.Element, a *Assertion) error {
	subj := child(statement, prefix11, "Subject")
	appendNameID(subj, prefix11, "NameIdentifier", a.Subject)

	sc := child(subj, prefix11, "SubjectConfirmation")
	child(sc, prefix11, "ConfirmationMethod").SetText(a.Confirmation.Method.URI(SAML11))
	if a.Confirmation.Method == HolderOfKey {
		ki, err := detachedCopy(a.Confirmation.KeyInfo)
		if err != nil {
			return fmt.Errorf("saml: copying KeyInfo: %w", err)
		}
		sc.AddChild(ki)
	}
	return nil
}
