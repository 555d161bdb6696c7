// Package entrycode owns the text a ticket is let in with: an Ed25519-signed
// code over {ticketId, eventId, codeVersion}, printable as a QR code, and
// its 12-character short form for typing at the door (DESIGN.md 9.2). It
// knows nothing of tickets or events beyond those three values: the issuer
// (tickets) decides when a code is issued and which codeVersion is current,
// the door decides what a verified code means.
//
// # The code
//
//	T1.<payload>.<signature>
//
// Both parts are Crockford base32 (0-9 A-Z without I L O U), upper case,
// without padding. Upper-case letters, digits and '.' are all in a QR
// code's alphanumeric mode (5.5 bits a character instead of 8), so the
// code prints as a smaller QR than base64 would; and a code is read
// case-insensitively, so a hand scanner that types it with Caps Lock on
// still works. "T1" names this format; another format gets another prefix.
//
// The payload is binary, every field in one canonical form:
//
//	uvarint  codeVersion (0 to 2^31-1)
//	id       ticketId
//	id       eventId
//
// where an id is either 0x01 and the 16 bytes of a UUID, for an id that
// is a UUID in its canonical lower-case text form (what the services
// issue), or 0x00, one length byte and the id's bytes, for any other id
// (ids.Valid: 1 to 64 of [A-Za-z0-9_-]). Nothing may follow the last id.
// The signature is Ed25519 (64 bytes) over signContext followed by the
// payload bytes, so the signing key signs nothing else by accident. A code
// of two UUIDs is 163 characters, a version-7 QR code at level M.
//
// # The short form
//
// The first 60 bits of SHA-256(shortContext ‖ signature), as 12 Crockford
// base32 characters. Ed25519 signatures are deterministic, so one key and
// one {ticketId, eventId, codeVersion} always give the same code and the
// same short form; another codeVersion gives another. Two codes share a
// short form with probability about n²/2⁶¹ among n codes (one in 23,000
// for ten million): the issuer stores it under a unique index and issues
// the next codeVersion on the rare clash. The short form proves nothing
// by itself: the door looks it up online. It is shown as XXXX-XXXX-XXXX
// (Format); Normalize reads it back from what a person types.
//
// # Keys
//
// A key is the standard base64 of a 32-byte Ed25519 seed (44 characters,
// `openssl rand -base64 32`); ParseKey reads it, GenerateKey makes one.
package entrycode

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/internal/platform/ids"
)

// Prefix starts every code of this format. A short form never contains a
// '.', so a door tells the two apart by it.
const Prefix = "T1."

// MaxLen bounds a code's text: a code of two ids of ids.MaxLen characters
// and the largest codeVersion is 327 characters. Anything longer is refused
// before it is decoded.
const MaxLen = 400

// ShortLen is the length of a short form without separators.
const ShortLen = 12

// MaxCodeVersion is the largest codeVersion a code carries.
const MaxCodeVersion = math.MaxInt32

const (
	signContext  = "ticketing entry code v1\x00"
	shortContext = "ticketing short code v1\x00"
	alphabet     = "0123456789ABCDEFGHJKMNPQRSTVWXYZ" // Crockford's base32
	idRaw        = 0x00
	idUUID       = 0x01
)

var enc = base32.NewEncoding(alphabet).WithPadding(base32.NoPadding)

// The errors Verify, Short and Normalize return, matched with errors.Is.
// A door treats them alike (the result `invalid`); they differ for logs
// and tests.
var (
	// ErrMalformed: not a code (or short form) at all: wrong prefix,
	// parts, alphabet or payload layout, or cut short.
	ErrMalformed = errors.New("entry code: malformed")
	// ErrOversized: longer than MaxLen (a code) or than any typed short
	// form could be.
	ErrOversized = errors.New("entry code: too long")
	// ErrBadSignature: shaped like a code, but not signed by this key over
	// this payload: forged, altered, or signed with another key.
	ErrBadSignature = errors.New("entry code: bad signature")
	// ErrInvalidClaims: Sign was given an id that is not an id or a
	// codeVersion out of range.
	ErrInvalidClaims = errors.New("entry code: invalid claims")
	// ErrInvalidKey: a key that is not the base64 of a 32-byte seed, or a
	// private or public key of the wrong size.
	ErrInvalidKey = errors.New("entry code: invalid key")
)

// Claims is what a code says: this ticket of this event, in this version
// of its code. The issuer compares CodeVersion with the ticket's current
// one; an older one is a void code.
type Claims struct {
	TicketID    string
	EventID     string
	CodeVersion int
}

func (c Claims) validate() error {
	switch {
	case !ids.Valid(c.TicketID):
		return fmt.Errorf("%w: ticketId %q is not an id", ErrInvalidClaims, c.TicketID)
	case !ids.Valid(c.EventID):
		return fmt.Errorf("%w: eventId %q is not an id", ErrInvalidClaims, c.EventID)
	case c.CodeVersion < 0 || c.CodeVersion > MaxCodeVersion:
		return fmt.Errorf("%w: codeVersion %d is outside 0..%d", ErrInvalidClaims, c.CodeVersion, MaxCodeVersion)
	}
	return nil
}

// Sign returns the code of c signed with priv. It fails only for claims
// Verify would not read back (an id outside ids.Valid, a codeVersion out of
// range) or a key of the wrong size.
func Sign(priv ed25519.PrivateKey, c Claims) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("%w: private key of %d bytes", ErrInvalidKey, len(priv))
	}
	if err := c.validate(); err != nil {
		return "", err
	}
	payload := binary.AppendUvarint(nil, uint64(c.CodeVersion))
	payload = appendID(payload, c.TicketID)
	payload = appendID(payload, c.EventID)
	sig := ed25519.Sign(priv, signed(payload))
	return Prefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(sig), nil
}

// Verify returns the claims of code when pub's key signed it. A code is
// read case-insensitively; surrounding spaces are not removed (the caller
// trims what a form or scanner adds). It never panics, whatever code is.
func Verify(pub ed25519.PublicKey, code string) (Claims, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Claims{}, fmt.Errorf("%w: public key of %d bytes", ErrInvalidKey, len(pub))
	}
	payload, sig, err := split(code)
	if err != nil {
		return Claims{}, err
	}
	c, err := decodePayload(payload)
	if err != nil {
		return Claims{}, err
	}
	if !ed25519.Verify(pub, signed(payload), sig) {
		return Claims{}, ErrBadSignature
	}
	return c, nil
}

// Short returns the short form of code (12 characters, without
// separators). It checks the code's shape, not its signature: give it a
// code Sign made or Verify accepted.
func Short(code string) (string, error) {
	payload, sig, err := split(code)
	if err != nil {
		return "", err
	}
	if _, err := decodePayload(payload); err != nil {
		return "", err
	}
	return shortOf(sig), nil
}

func shortOf(sig []byte) string {
	h := sha256.New()
	h.Write([]byte(shortContext))
	h.Write(sig)
	sum := h.Sum(nil)
	// 12 characters of 5 bits: the first 60 bits of the hash (the
	// encoding of 8 bytes is 13 characters, the last holding 4 bits).
	return enc.EncodeToString(sum[:8])[:ShortLen]
}

// maxTyped bounds what Normalize reads: a short form with a separator
// between every character and some spaces around.
const maxTyped = 64

// Normalize returns the short form in s as ShortLen upper-case characters,
// reading it as a person types it: any case, with hyphens and spaces
// anywhere, and Crockford's readings of the letters it leaves out (I and L
// are 1, O is 0). U, which Crockford leaves out too, is refused.
func Normalize(s string) (string, error) {
	if len(s) > maxTyped {
		return "", fmt.Errorf("%w: short form of %d characters", ErrOversized, len(s))
	}
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch c {
		case ' ', '-', '\t':
			continue
		case 'I', 'L':
			c = '1'
		case 'O':
			c = '0'
		}
		if strings.IndexByte(alphabet, c) < 0 {
			return "", fmt.Errorf("%w: %q is not a short-form character", ErrMalformed, s[i])
		}
		b.WriteByte(c)
	}
	if b.Len() != ShortLen {
		return "", fmt.Errorf("%w: short form of %d characters, want %d", ErrMalformed, b.Len(), ShortLen)
	}
	return b.String(), nil
}

// Format shows a short form in groups of four, XXXX-XXXX-XXXX, easier to
// read out and type. A string that is not a normalized short form is
// returned as it is.
func Format(short string) string {
	if len(short) != ShortLen {
		return short
	}
	return short[:4] + "-" + short[4:8] + "-" + short[8:]
}

// split checks a code's outer shape and decodes its two parts.
func split(code string) (payload, sig []byte, err error) {
	if len(code) > MaxLen {
		return nil, nil, fmt.Errorf("%w: %d characters, at most %d", ErrOversized, len(code), MaxLen)
	}
	code = upperASCII(code)
	rest, ok := strings.CutPrefix(code, Prefix)
	if !ok {
		return nil, nil, fmt.Errorf("%w: does not start with %s", ErrMalformed, Prefix)
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, nil, fmt.Errorf("%w: no signature part", ErrMalformed)
	}
	if payload, err = decodePart(p); err != nil {
		return nil, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if sig, err = decodePart(s); err != nil {
		return nil, nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(sig), ed25519.SignatureSize)
	}
	return payload, sig, nil
}

// decodePart decodes one base32 part and insists on its one canonical
// text, so no two texts (past upper and lower case) are the same code.
func decodePart(s string) ([]byte, error) {
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if enc.EncodeToString(b) != s {
		return nil, errors.New("not in canonical form")
	}
	return b, nil
}

func decodePayload(p []byte) (Claims, error) {
	v, n := binary.Uvarint(p)
	if n <= 0 || v > MaxCodeVersion {
		return Claims{}, fmt.Errorf("%w: bad codeVersion", ErrMalformed)
	}
	if len(binary.AppendUvarint(nil, v)) != n {
		return Claims{}, fmt.Errorf("%w: codeVersion not in its shortest form", ErrMalformed)
	}
	p = p[n:]
	ticket, p, err := readID(p)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: ticketId: %v", ErrMalformed, err)
	}
	event, p, err := readID(p)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: eventId: %v", ErrMalformed, err)
	}
	if len(p) != 0 {
		return Claims{}, fmt.Errorf("%w: %d bytes after the payload", ErrMalformed, len(p))
	}
	return Claims{TicketID: ticket, EventID: event, CodeVersion: int(v)}, nil
}

func appendID(b []byte, id string) []byte {
	if u, err := uuid.Parse(id); err == nil && u.String() == id {
		return append(append(b, idUUID), u[:]...)
	}
	return append(append(b, idRaw, byte(len(id))), id...)
}

func readID(p []byte) (string, []byte, error) {
	if len(p) == 0 {
		return "", nil, errors.New("missing")
	}
	switch p[0] {
	case idUUID:
		if len(p) < 17 {
			return "", nil, errors.New("cut short")
		}
		u, _ := uuid.FromBytes(p[1:17])
		return u.String(), p[17:], nil
	case idRaw:
		if len(p) < 2 || len(p) < 2+int(p[1]) {
			return "", nil, errors.New("cut short")
		}
		id := string(p[2 : 2+int(p[1])])
		if !ids.Valid(id) {
			return "", nil, errors.New("not an id")
		}
		// A UUID in its canonical text is always written as 16 bytes.
		if u, err := uuid.Parse(id); err == nil && u.String() == id {
			return "", nil, errors.New("a UUID not in its 16-byte form")
		}
		return id, p[2+int(p[1]):], nil
	}
	return "", nil, fmt.Errorf("unknown id form %#x", p[0])
}

func signed(payload []byte) []byte {
	return append([]byte(signContext), payload...)
}

// upperASCII upper-cases ASCII letters and leaves every other byte as it
// is (strings.ToUpper would turn invalid UTF-8 into U+FFFD, and some
// non-ASCII letters into ASCII ones).
func upperASCII(s string) string {
	for i := range len(s) {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// ParseKey reads a signing key: the standard base64 (padded or not) of a
// 32-byte Ed25519 seed, as GenerateKey and `openssl rand -base64 32` make.
// Spaces and newlines around it are ignored (a key file ends in one).
func ParseKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	seed, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: want the base64 of a %d-byte Ed25519 seed: %v", ErrInvalidKey, ed25519.SeedSize, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: want the base64 of a %d-byte Ed25519 seed, got %d bytes", ErrInvalidKey, ed25519.SeedSize, len(seed))
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// GenerateKey returns a new signing key as ParseKey reads it.
func GenerateKey() string {
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed) // never fails (crypto/rand since Go 1.24)
	return base64.StdEncoding.EncodeToString(seed)
}

// EncodeKey returns priv as ParseKey reads it.
func EncodeKey(priv ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(priv.Seed())
}
