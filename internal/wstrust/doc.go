// Package wstrust reads WS-Trust 1.3 and 2005/02 RequestSecurityToken
// messages and writes RequestSecurityTokenResponses, with the URIs, actions
// and element order that AD FS clients, WIF, CXF and the eHealth profiles
// expect.
//
// ParseRST accepts children in any order, ignores extensions, reads
// SecondaryParameters beneath the top level, collapses whitespace in URI
// values and normalises RequestType, KeyType and TokenType while keeping the
// raw URIs. RSTR.Build writes the AD FS child order, wraps a 1.3 Issue answer
// in a RequestSecurityTokenResponseCollection and echoes each URI in the form
// of the request's version (NoProofKey for a 2005 bearer request).
package wstrust
