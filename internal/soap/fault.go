package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
)

// FaultFamily says which specification defines a fault code, and so which
// namespace its QName takes when the fault is written.
type FaultFamily int

const (
	// FamilyTrust codes live in the WS-Trust namespace of the request
	// (1.3 or 2005/02), as WS-Trust 1.3 §11 lists them.
	FamilyTrust FaultFamily = iota
	// FamilySecurity codes live in the WS-Security 1.0 secext namespace
	// (WSS SOAP Message Security 1.1 §12).
	FamilySecurity
	// FamilyEnvelope codes are the SOAP envelope's own (VersionMismatch,
	// MustUnderstand, Sender/Client, Receiver/Server) with no subcode.
	FamilyEnvelope
)

// FaultCode is a fault's specific code: its family and local name.
type FaultCode struct {
	Family FaultFamily
	Local  string
	// Receiver marks a fault caused by the STS, not by the request:
	// SOAP 1.2 env:Receiver, SOAP 1.1 soap:Server. Everything else is the
	// sender's (env:Sender / soap:Client).
	Receiver bool
}

// WS-Trust fault codes (WS-Trust 1.3 §11).
var (
	InvalidRequest            = FaultCode{Family: FamilyTrust, Local: "InvalidRequest"}
	TrustFailedAuthentication = FaultCode{Family: FamilyTrust, Local: "FailedAuthentication"}
	RequestFailed             = FaultCode{Family: FamilyTrust, Local: "RequestFailed", Receiver: true}
	TrustInvalidSecurityToken = FaultCode{Family: FamilyTrust, Local: "InvalidSecurityToken"}
	AuthenticationBadElements = FaultCode{Family: FamilyTrust, Local: "AuthenticationBadElements"}
	BadRequest                = FaultCode{Family: FamilyTrust, Local: "BadRequest"}
	ExpiredData               = FaultCode{Family: FamilyTrust, Local: "ExpiredData"}
	InvalidTimeRange          = FaultCode{Family: FamilyTrust, Local: "InvalidTimeRange"}
	InvalidScope              = FaultCode{Family: FamilyTrust, Local: "InvalidScope"}
	RenewNeeded               = FaultCode{Family: FamilyTrust, Local: "RenewNeeded"}
	UnableToRenew             = FaultCode{Family: FamilyTrust, Local: "UnableToRenew"}
)

// WS-Security fault codes (WSS SOAP Message Security 1.1 §12).
var (
	UnsupportedSecurityToken = FaultCode{Family: FamilySecurity, Local: "UnsupportedSecurityToken"}
	UnsupportedAlgorithm     = FaultCode{Family: FamilySecurity, Local: "UnsupportedAlgorithm"}
	InvalidSecurity          = FaultCode{Family: FamilySecurity, Local: "InvalidSecurity"}
	InvalidSecurityToken     = FaultCode{Family: FamilySecurity, Local: "InvalidSecurityToken"}
	FailedAuthentication     = FaultCode{Family: FamilySecurity, Local: "FailedAuthentication"}
	FailedCheck              = FaultCode{Family: FamilySecurity, Local: "FailedCheck"}
	SecurityTokenUnavailable = FaultCode{Family: FamilySecurity, Local: "SecurityTokenUnavailable"}
	MessageExpired           = FaultCode{Family: FamilySecurity, Local: "MessageExpired"}
)

// SOAP envelope fault codes.
var (
	VersionMismatch = FaultCode{Family: FamilyEnvelope, Local: "VersionMismatch"}
	MustUnderstand  = FaultCode{Family: FamilyEnvelope, Local: "MustUnderstand"}
	// Sender is a malformed message with no more specific code.
	Sender = FaultCode{Family: FamilyEnvelope, Local: "Sender"}
	// Receiver is a failure inside the STS with no more specific code.
	Receiver = FaultCode{Family: FamilyEnvelope, Local: "Receiver", Receiver: true}
)

// Fault is an error that is answered with a SOAP fault. Reason is safe to
// show the caller; Cause is for the log only and never leaves the process
// (it may name users, keys or internal state).
type Fault struct {
	Code   FaultCode
	Reason string
	Cause  error
	// NotUnderstood names the mandatory header blocks that were not
	// understood (MustUnderstand faults only); SOAP 1.2 faults list them in
	// NotUnderstood header blocks. They are the caller's own element names.
	NotUnderstood []xml.Name
}

// NewFault returns a fault with a caller-safe reason and the cause to log.
func NewFault(code FaultCode, reason string, cause error) *Fault {
	return &Fault{Code: code, Reason: reason, Cause: cause}
}

// Faultf returns a fault whose reason is formatted and which has no separate
// cause: use it only when the reason itself is all there is to log.
func Faultf(code FaultCode, format string, args ...any) *Fault {
	return &Fault{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func (f *Fault) Error() string {
	if f.Cause == nil {
		return f.Code.Local + ": " + f.Reason
	}
	return f.Code.Local + ": " + f.Reason + ": " + f.Cause.Error()
}

func (f *Fault) Unwrap() error { return f.Cause }

// AsFault returns err as a *Fault: the fault itself when err is or wraps one,
// otherwise a Receiver fault with a generic reason that keeps err as its
// cause, so an internal error never reaches the caller's screen.
func AsFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return NewFault(Receiver, "the request could not be processed", err)
}
