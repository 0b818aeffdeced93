package saml

import (
	"fmt"

	"github.com/beevik/etree"
)

const prefix20 = "saml2"

// BuildSAML20 writes a as an unsigned SAML 2.0 assertion: a detached
// element declaring every namespace it uses, children in schema order
// (Issuer, Subject, Conditions, Advice, AuthnStatement, AttributeStatement),
// attribute values typed xs:string. Sign it with Sign.
func BuildSAML20(a *Assertion) (*etree.Element, error) {
	if err := a.checkCommon(); err != nil {
		return nil, err
	}
	root := &etree.Element{Space: prefix20, Tag: "Assertion"}
	root.CreateAttr("xmlns:"+prefix20, NamespaceSAML20)
	if len(a.Attributes) > 0 || a.Confirmation.Method == HolderOfKey {
		root.CreateAttr("xmlns:xs", NamespaceXS)
		root.CreateAttr("xmlns:xsi", NamespaceXSI)
	}
	root.CreateAttr("ID", a.ID)
	root.CreateAttr("IssueInstant", formatTime(a.IssueInstant))
	root.CreateAttr("Version", "2.0")

	child(root, prefix20, "Issuer").SetText(a.Issuer)
	if err := subject20(root, a); err != nil {
		return nil, err
	}
	appendConditions(root, prefix20, "AudienceRestriction", a)
	if err := appendAdvice(root, prefix20, a.Advice); err != nil {
		return nil, err
	}
	if a.Authn != nil {
		st := child(root, prefix20, "AuthnStatement")
		st.CreateAttr("AuthnInstant", formatTime(a.Authn.Instant))
		ctx := child(st, prefix20, "AuthnContext")
		child(ctx, prefix20, "AuthnContextClassRef").SetText(a.Authn.Method)
	}
	if len(a.Attributes) > 0 {
		st := child(root, prefix20, "AttributeStatement")
		for _, at := range a.Attributes {
			attr := child(st, prefix20, "Attribute")
			attr.CreateAttr("Name", at.Name)
			if at.Namespace != "" {
				attr.CreateAttr("NameFormat", at.Namespace)
			}
			for _, v := range at.Values {
				val := child(attr, prefix20, "AttributeValue")
				val.CreateAttr("xsi:type", "xs:string")
				val.SetText(v)
			}
		}
	}
	return root, nil
}

func subject20(root *etree.Element, a *Assertion) error {
	subj := child(root, prefix20, "Subject")
	appendNameID(subj, prefix20, "NameID", a.Subject)

	c := a.Confirmation
	sc := child(subj, prefix20, "SubjectConfirmation")
	sc.CreateAttr("Method", c.Method.URI(SAML20))
	if c.NotOnOrAfter.IsZero() && c.Recipient == "" && c.Method != HolderOfKey {
		return nil
	}
	data := child(sc, prefix20, "SubjectConfirmationData")
	if !c.NotOnOrAfter.IsZero() {
		data.CreateAttr("NotOnOrAfter", formatTime(c.NotOnOrAfter))
	}
	if c.Recipient != "" {
		data.CreateAttr("Recipient", c.Recipient)
	}
	if c.Method == HolderOfKey {
		data.CreateAttr("xsi:type", prefix20+":KeyInfoConfirmationDataType")
		ki, err := detachedCopy(c.KeyInfo)
		if err != nil {
			return fmt.Errorf("saml: copying KeyInfo: %w", err)
		}
		data.AddChild(ki)
	}
	return nil
}
