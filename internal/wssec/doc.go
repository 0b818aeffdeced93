// Package wssec reads the WS-Security header of an incoming request (who is
// calling) and keeps the replay store that refuses a message or a
// UsernameToken nonce seen before.
//
// ParseHeader turns a wsse:Security element into a Header: the Timestamp,
// UsernameTokens, BinarySecurityTokens, and the ds:Signature and SAML
// assertion elements kept raw, so that X.509 signatures, Kerberos and
// issued-token authentication are checked later by the packages that own
// them without parsing the header again. Checks that depend on the clock
// (CheckTimestamp, CheckUsernameTokenFreshness) take the time as a parameter.
//
// Every error a caller caused is a *soap.Fault whose Reason names the piece
// that is wrong; passwords never appear in a Reason or a Cause.
package wssec
