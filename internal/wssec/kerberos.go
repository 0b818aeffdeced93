package wssec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/trustbroker/trustbroker/internal/soap"
)

// DefaultKerberosMaxSkew is the clock skew a KerberosVerifier allows when
// MaxSkew is zero: five minutes, the Kerberos default (RFC 4120 §1.7).
const DefaultKerberosMaxSkew = 5 * time.Minute

// kerberosReplayKeyPrefix keeps Kerberos keys apart from the other kinds in
// a shared replay store.
const kerberosReplayKeyPrefix = "wssec:krb:"

// KerberosVerifier checks Kerberos BinarySecurityTokens (AP-REQs) sent to
// one service principal, with that principal's keys from a keytab. Verify
// only reads the verifier, so one value serves concurrent requests.
type KerberosVerifier struct {
	// ServicePrincipal is the STS's principal with its realm, e.g.
	// "HTTP/sts.example.com@EXAMPLE.COM". Tickets for any other principal
	// are refused, even when the keytab holds keys for it.
	ServicePrincipal string
	// Keytab holds the service principal's keys (every key version still
	// in use by tickets that have not expired).
	Keytab *keytab.Keytab
	// MaxSkew bounds the difference between the client's clock and now;
	// zero means DefaultKerberosMaxSkew.
	MaxSkew time.Duration
	// AllowWeakEncryption accepts tickets encrypted with rc4-hmac or
	// des3-cbc-sha1-kd, which older Active Directory accounts still use.
	// Off, only the AES types are accepted.
	AllowWeakEncryption bool
}

// NewKerberosVerifier builds a verifier from a keytab file's bytes (the
// keytab Secret) and checks that the keytab holds a key for the principal,
// so a wrong Secret is found when the configuration loads, not at the first
// request.
func NewKerberosVerifier(servicePrincipal string, keytabBytes []byte, maxSkew time.Duration) (*KerberosVerifier, error) {
	name, realm, err := parseKrbServicePrincipal(servicePrincipal)
	if err != nil {
		return nil, err
	}
	kt := keytab.New()
	if err := unmarshalKrbKeytab(kt, keytabBytes); err != nil {
		return nil, fmt.Errorf("kerberos keytab: %w", err)
	}
	if !krbKeytabHasPrincipal(kt, name, realm) {
		return nil, fmt.Errorf("kerberos keytab holds no key for %s", servicePrincipal)
	}
	return &KerberosVerifier{ServicePrincipal: strings.TrimSpace(servicePrincipal), Keytab: kt, MaxSkew: maxSkew}, nil
}

// unmarshalKrbKeytab parses a keytab; the parser indexes the input without
// bounds checks in places, so a truncated file must become an error, not a
// crash of the process loading the configuration.
func unmarshalKrbKeytab(kt *keytab.Keytab, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed keytab: %v", r)
		}
	}()
	return kt.Unmarshal(b)
}

func krbKeytabHasPrincipal(kt *keytab.Keytab, name types.PrincipalName, realm string) bool {
	for _, e := range kt.Entries {
		if e.Principal.Realm == realm && slices.Equal(e.Principal.Components, name.NameString) {
			return true
		}
	}
	return false
}

// parseKrbServicePrincipal splits "service/host@REALM"; the realm is required
// because the keytab lookup and the ticket check both need it.
func parseKrbServicePrincipal(spn string) (types.PrincipalName, string, error) {
	spn = strings.TrimSpace(spn)
	at := strings.LastIndexByte(spn, '@')
	if at <= 0 || at == len(spn)-1 {
		return types.PrincipalName{}, "", fmt.Errorf("kerberos service principal %q needs the form service/host@REALM", spn)
	}
	name, realm := spn[:at], spn[at+1:]
	pn := types.NewPrincipalName(1, name) // KRB_NT_PRINCIPAL; the name type is not compared
	for _, c := range pn.NameString {
		if c == "" {
			return types.PrincipalName{}, "", fmt.Errorf("kerberos service principal %q has an empty component", spn)
		}
	}
	return pn, realm, nil
}

// KerberosIdentity is the outcome of a verified AP-REQ.
type KerberosIdentity struct {
	// Principal is the client's name without realm ("alice",
	// "alice/admin"); Realm is the client's realm.
	Principal, Realm string
	// SessionKey is the ticket's session key; SubKey the authenticator's
	// subkey, zero (KeyType 0) when the client sent none. SignatureKeys
	// lists the ones a signature over the message may use.
	SessionKey, SubKey types.EncryptionKey
	// AuthTime is when the client first authenticated to the KDC; EndTime
	// is when the ticket expires.
	AuthTime, EndTime time.Time
	// ReplayKey identifies the authenticator (KerberosReplayKey).
	ReplayKey string
}

// Name is the client's principal with its realm, "alice@EXAMPLE.COM".
func (id *KerberosIdentity) Name() string { return id.Principal + "@" + id.Realm }

// SignatureKeys are the keys a signature that references this token may
// use, most likely first: the authenticator's subkey when the client sent
// one, then the ticket's session key. Clients differ (Windows SSPI keys its
// context with the subkey; WSS4J's KerberosSecurity signs with the session
// key even when it sent a subkey), so a verifier tries each.
func (id *KerberosIdentity) SignatureKeys() []types.EncryptionKey {
	keys := make([]types.EncryptionKey, 0, 2)
	if len(id.SubKey.KeyValue) > 0 {
		keys = append(keys, id.SubKey)
	}
	return append(keys, id.SessionKey)
}

// KerberosReplayKey is the replay key of an authenticator: a SHA-256 of the
// client's realm and name, the service's realm and name, and the
// authenticator's ctime and cusec, the tuple RFC 4120 §3.2.3 tells a server
// to remember. Those fields sit inside the authenticator, which only the
// holder of the session key can produce, so a replayed AP-REQ cannot be
// altered to get a fresh key.
func KerberosReplayKey(auth *types.Authenticator, serviceRealm string, service types.PrincipalName) string {
	h := sha256.New()
	writeField(h, []byte(auth.CRealm))
	writeField(h, []byte(auth.CName.PrincipalNameString()))
	writeField(h, []byte(serviceRealm))
	writeField(h, []byte(service.PrincipalNameString()))
	writeField(h, []byte(strconv.FormatInt(auth.CTime.Unix(), 10)))
	writeField(h, []byte(strconv.Itoa(auth.Cusec)))
	return kerberosReplayKeyPrefix + hex.EncodeToString(h.Sum(nil))
}

var (
	errKrbOtherService    = errors.New("ticket is for another service principal")
	errKrbClientMismatch  = errors.New("authenticator client does not match the ticket client")
	errKrbUserToUser      = errors.New("user-to-user AP-REQ (use-session-key) is not supported")
	errKrbTicketInvalid   = errors.New("ticket has the INVALID flag")
	errKrbWeakEncryption  = errors.New("encryption type not allowed")
	errKrbVerifierConfig  = errors.New("kerberos verifier has no keytab")
	errKrbMissingTimes    = errors.New("ticket has no end time")
	errKrbAuthenticatorV5 = errors.New("authenticator version is not 5")
)

// Verify checks a Kerberos BinarySecurityToken at time now: the ticket must
// be for ServicePrincipal and decrypt with its key from the keytab, be
// valid at now (within MaxSkew), and carry an authenticator made with the
// ticket's session key for the same client whose time is within MaxSkew of
// now. With a replay store, an authenticator seen before is refused; the
// key is kept for as long as the authenticator would be accepted.
//
// Errors are *soap.Fault: InvalidSecurityToken for a token that is not a
// well-formed AP-REQ, MessageExpired for an expired ticket or a clock
// outside the skew, UnsupportedAlgorithm for a refused encryption type,
// InvalidSecurity for a replay, RequestFailed when the replay store is
// down, FailedAuthentication for everything else; the detail is in the
// Cause, which never holds key material.
func (v *KerberosVerifier) Verify(ctx context.Context, bst *BinarySecurityToken, now time.Time, replay ReplayStore) (*KerberosIdentity, error) {
	if v == nil || v.Keytab == nil {
		return nil, soap.NewFault(soap.RequestFailed, "Kerberos authentication is not configured", errKrbVerifierConfig)
	}
	sname, srealm, err := parseKrbServicePrincipal(v.ServicePrincipal)
	if err != nil {
		return nil, soap.NewFault(soap.RequestFailed, "Kerberos authentication is not configured", err)
	}
	ap, err := decodeKrbAPREQ(bst)
	if err != nil {
		return nil, err
	}
	if err := v.checkService(ap, sname, srealm); err != nil {
		return nil, err
	}
	if err := decryptKrbTicket(ap, v.Keytab, sname, srealm); err != nil {
		return nil, err
	}
	skew := v.skew()
	if err := checkKrbTicketTimes(&ap.Ticket, now, skew); err != nil {
		return nil, err
	}
	if err := decryptKrbAuthenticator(ap); err != nil {
		return nil, err
	}
	if err := checkKrbAuthenticator(ap, now, skew); err != nil {
		return nil, err
	}
	id := krbIdentity(ap, srealm, sname)
	if replay != nil {
		ttl := krbAuthenticatorTime(&ap.Authenticator).Add(skew).Sub(now)
		guard := ReplayGuard{Store: replay}
		if err := guard.seen(ctx, id.ReplayKey, ttl, "the Kerberos authenticator was already used"); err != nil {
			return nil, err
		}
	}
	return id, nil
}

func (v *KerberosVerifier) skew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultKerberosMaxSkew
}

func krbTokenFault(reason string, cause error) error {
	return soap.NewFault(soap.InvalidSecurityToken, reason, cause)
}

func krbDenied(reason string, cause error) error {
	return soap.NewFault(soap.FailedAuthentication, reason, cause)
}

// decodeKrbAPREQ strips the GSS-API framing and parses the AP-REQ.
func decodeKrbAPREQ(bst *BinarySecurityToken) (ap *messages.APReq, err error) {
	if bst == nil || !bst.IsKerberos() {
		return nil, krbTokenFault("BinarySecurityToken is not a Kerberos AP-REQ", fmt.Errorf("ValueType %q", krbValueType(bst)))
	}
	raw, err := KerberosAPREQ(bst.Value)
	if err != nil {
		return nil, krbTokenFault("Kerberos token is malformed", err)
	}
	defer func() {
		// The ASN.1 decoder is not ours; a crash on hostile input must
		// refuse the token, not take the server down.
		if r := recover(); r != nil {
			ap, err = nil, krbTokenFault("Kerberos AP-REQ cannot be parsed", fmt.Errorf("decoder panic: %v", r))
		}
	}()
	ap = new(messages.APReq)
	if err := ap.Unmarshal(raw); err != nil {
		return nil, krbTokenFault("Kerberos AP-REQ cannot be parsed", err)
	}
	if ap.PVNO != iana.PVNO {
		return nil, krbTokenFault("Kerberos AP-REQ is not Kerberos version 5", fmt.Errorf("pvno %d", ap.PVNO))
	}
	if len(ap.Ticket.SName.NameString) == 0 {
		return nil, krbTokenFault("Kerberos ticket names no service", errors.New("empty sname"))
	}
	return ap, nil
}

func krbValueType(bst *BinarySecurityToken) string {
	if bst == nil {
		return ""
	}
	return truncate(bst.ValueType, 120)
}

// checkService refuses tickets for other principals, user-to-user tickets
// and weak encryption before any key is used.
func (v *KerberosVerifier) checkService(ap *messages.APReq, sname types.PrincipalName, srealm string) error {
	t := &ap.Ticket
	if t.Realm != srealm || !t.SName.Equal(sname) {
		return krbDenied("Access denied: the Kerberos ticket is for another service principal.",
			fmt.Errorf("%w: ticket for %s@%s, this STS is %s", errKrbOtherService,
				truncate(t.SName.PrincipalNameString(), 200), truncate(t.Realm, 200), v.ServicePrincipal))
	}
	if krbFlagSet(ap.APOptions, flags.APOptionUseSessionKey) {
		return krbDenied("Access denied: user-to-user Kerberos tickets are not accepted.", errKrbUserToUser)
	}
	for _, et := range []int32{t.EncPart.EType, ap.EncryptedAuthenticator.EType} {
		if !v.etypeAllowed(et) {
			return soap.NewFault(soap.UnsupportedAlgorithm, "the Kerberos encryption type is not accepted; use AES",
				fmt.Errorf("%w: etype %d", errKrbWeakEncryption, et))
		}
	}
	return nil
}

func (v *KerberosVerifier) etypeAllowed(et int32) bool {
	switch et {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
		etypeID.AES128_CTS_HMAC_SHA256_128, etypeID.AES256_CTS_HMAC_SHA384_192:
		return true
	case etypeID.RC4_HMAC, etypeID.DES3_CBC_SHA1_KD:
		return v.AllowWeakEncryption
	}
	return false
}

// decryptKrbTicket decrypts the ticket with the service key whose version and
// type the ticket names.
func decryptKrbTicket(ap *messages.APReq, kt *keytab.Keytab, sname types.PrincipalName, srealm string) error {
	t := &ap.Ticket
	key, _, err := kt.GetEncryptionKey(sname, srealm, t.EncPart.KVNO, t.EncPart.EType)
	if err != nil {
		return krbDenied("Access denied: the Kerberos ticket cannot be decrypted with the service key (key version or principal differs).",
			fmt.Errorf("ticket kvno %d etype %d: %w", t.EncPart.KVNO, t.EncPart.EType, err))
	}
	if err := krbGuard(func() error { return t.Decrypt(key) }); err != nil {
		return krbDenied("Access denied: the Kerberos ticket cannot be decrypted with the service key (key version or principal differs).",
			fmt.Errorf("ticket kvno %d etype %d: %w", t.EncPart.KVNO, t.EncPart.EType, err))
	}
	return nil
}

// checkKrbTicketTimes applies the ticket's validity period, widened by the
// allowed skew as RFC 4120 §3.2.3 does.
func checkKrbTicketTimes(t *messages.Ticket, now time.Time, skew time.Duration) error {
	enc := &t.DecryptedEncPart
	if krbFlagSet(enc.Flags, flags.Invalid) {
		return krbDenied("Access denied: the Kerberos ticket is marked invalid.", errKrbTicketInvalid)
	}
	if enc.EndTime.IsZero() {
		return krbDenied("Access denied: the Kerberos ticket has no end time.", errKrbMissingTimes)
	}
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	if start.Sub(now) > skew {
		return krbDenied("Access denied: the Kerberos ticket is not yet valid.",
			fmt.Errorf("ticket starts %s, now %s, skew %s", start.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew))
	}
	if now.Sub(enc.EndTime) > skew {
		return soap.NewFault(soap.MessageExpired, "the Kerberos ticket has expired",
			fmt.Errorf("ticket ended %s, now %s, skew %s", enc.EndTime.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew))
	}
	return nil
}

// decryptKrbAuthenticator decrypts the authenticator with the session key.
func decryptKrbAuthenticator(ap *messages.APReq) error {
	key := ap.Ticket.DecryptedEncPart.Key
	if ap.EncryptedAuthenticator.EType != key.KeyType {
		return krbDenied("Access denied: the Kerberos authenticator cannot be decrypted.",
			fmt.Errorf("authenticator etype %d, session key type %d", ap.EncryptedAuthenticator.EType, key.KeyType))
	}
	err := krbGuard(func() error {
		b, err := crypto.DecryptEncPart(ap.EncryptedAuthenticator, key, keyusage.AP_REQ_AUTHENTICATOR)
		if err != nil {
			return err
		}
		return ap.Authenticator.Unmarshal(b)
	})
	if err != nil {
		return krbDenied("Access denied: the Kerberos authenticator cannot be decrypted.", err)
	}
	return nil
}

// checkKrbAuthenticator ties the authenticator to the ticket's client and to
// the present.
func checkKrbAuthenticator(ap *messages.APReq, now time.Time, skew time.Duration) error {
	a, enc := &ap.Authenticator, &ap.Ticket.DecryptedEncPart
	if a.AVNO != iana.PVNO {
		return krbDenied("Access denied: the Kerberos authenticator is malformed.", errKrbAuthenticatorV5)
	}
	if a.CRealm != enc.CRealm || !a.CName.Equal(enc.CName) {
		return krbDenied("Access denied: the Kerberos authenticator does not match the ticket.",
			fmt.Errorf("%w: authenticator %s@%s, ticket %s@%s", errKrbClientMismatch,
				truncate(a.CName.PrincipalNameString(), 200), truncate(a.CRealm, 200),
				truncate(enc.CName.PrincipalNameString(), 200), truncate(enc.CRealm, 200)))
	}
	ct := krbAuthenticatorTime(a)
	if d := now.Sub(ct); d > skew || -d > skew {
		return soap.NewFault(soap.MessageExpired, "the Kerberos authenticator time is outside the allowed clock skew",
			fmt.Errorf("authenticator time %s, now %s, skew %s", ct.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), skew))
	}
	return nil
}

func krbAuthenticatorTime(a *types.Authenticator) time.Time {
	return a.CTime.Add(time.Duration(a.Cusec) * time.Microsecond)
}

func krbIdentity(ap *messages.APReq, srealm string, sname types.PrincipalName) *KerberosIdentity {
	enc := &ap.Ticket.DecryptedEncPart
	return &KerberosIdentity{
		Principal:  enc.CName.PrincipalNameString(),
		Realm:      enc.CRealm,
		SessionKey: enc.Key,
		SubKey:     ap.Authenticator.SubKey,
		AuthTime:   enc.AuthTime,
		EndTime:    enc.EndTime,
		ReplayKey:  KerberosReplayKey(&ap.Authenticator, srealm, sname),
	}
}

// krbFlagSet reads bit i of a Kerberos flags bit string; a bit beyond the
// string's end is clear (the sender may send a short string).
func krbFlagSet(f asn1.BitString, i int) bool {
	if i < 0 || i >= f.BitLength || i/8 >= len(f.Bytes) {
		return false
	}
	return f.Bytes[i/8]&(0x80>>uint(i%8)) != 0
}

// krbGuard runs a decryption step of the Kerberos library and turns a panic
// on hostile input into an error.
func krbGuard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kerberos library panic: %v", r)
		}
	}()
	return f()
}
