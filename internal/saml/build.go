package saml

import (
	"fmt"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Build writes a in version v; see BuildSAML20 and BuildSAML11.
func Build(v Version, a *Assertion) (*etree.Element, error) {
	switch v {
	case SAML20:
		return BuildSAML20(a)
	case SAML11:
		return BuildSAML11(a)
	}
	return nil, fmt.Errorf("saml: cannot build %s", v)
}

// child creates a prefixed child element.
func child(parent *etree.Element, prefix, tag string) *etree.Element {
	c := parent.CreateElement(tag)
	c.Space = prefix
	return c
}

// detachedCopy copies el with the namespace declarations in scope where it
// came from, so that it stays meaningful in its new place.
func detachedCopy(el *etree.Element) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	return etreeutils.NSDetatch(ctx, el)
}

// appendAdvice adds an Advice element holding copies of advice's children.
func appendAdvice(parent *etree.Element, prefix string, advice *etree.Element) error {
	if advice == nil {
		return nil
	}
	out := child(parent, prefix, "Advice")
	for _, c := range advice.ChildElements() {
		cp, err := detachedCopy(c)
		if err != nil {
			return fmt.Errorf("saml: copying Advice content: %w", err)
		}
		out.AddChild(cp)
	}
	return nil
}

// appendNameID adds the subject's name identifier, named tag.
func appendNameID(subj *etree.Element, prefix, tag string, s Subject) {
	nameID := child(subj, prefix, tag)
	if s.Format != "" {
		nameID.CreateAttr("Format", s.Format)
	}
	if s.NameQualifier != "" {
		nameID.CreateAttr("NameQualifier", s.NameQualifier)
	}
	nameID.SetText(s.NameID)
}

// appendConditions adds Conditions with the validity window and the
// audiences, inside an element named restriction, when a has any of them.
func appendConditions(root *etree.Element, prefix, restriction string, a *Assertion) {
	if a.NotBefore.IsZero() && a.NotOnOrAfter.IsZero() && len(a.Audiences) == 0 {
		return
	}
	cond := child(root, prefix, "Conditions")
	if !a.NotBefore.IsZero() {
		cond.CreateAttr("NotBefore", formatTime(a.NotBefore))
	}
	if !a.NotOnOrAfter.IsZero() {
		cond.CreateAttr("NotOnOrAfter", formatTime(a.NotOnOrAfter))
	}
	if len(a.Audiences) > 0 {
		ar := child(cond, prefix, restriction)
		for _, aud := range a.Audiences {
			child(ar, prefix, "Audience").SetText(aud)
		}
	}
}
