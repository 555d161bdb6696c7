package entrycode_test

import (
	"crypto/ed25519"
	"encoding/base32"
	"errors"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
)

// The keys of the tests: fixed seeds, so a failure is reproducible.
var (
	priv  = mustKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	other = mustKey("HxwdHh8bGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=")
	pub   = priv.Public().(ed25519.PublicKey)
)

func mustKey(s string) ed25519.PrivateKey {
	k, err := entrycode.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

const (
	ticketUUID = "0192f0c4-5a6b-7c8d-9e0f-a1b2c3d4e5f6"
	eventUUID  = "0192f0c4-0000-7000-8000-000000000001"
)

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

func sign(t testing.TB, k ed25519.PrivateKey, c entrycode.Claims) string {
	t.Helper()
	code, err := entrycode.Sign(k, c)
	if err != nil {
		t.Fatalf("Sign(%+v): %v", c, err)
	}
	return code
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		claims  entrycode.Claims
		wantLen int // 0: not checked
	}{
		{"uuids", entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: 1}, 163},
		{"version 0", entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: 0}, 163},
		{"largest version", entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: entrycode.MaxCodeVersion}, 0},
		{"short ids", entrycode.Claims{TicketID: "t1", EventID: "e_1-x", CodeVersion: 7}, 0},
		{"upper-case uuid kept as written", entrycode.Claims{TicketID: strings.ToUpper(ticketUUID), EventID: eventUUID, CodeVersion: 2}, 0},
		{"longest ids", entrycode.Claims{TicketID: strings.Repeat("a", 64), EventID: strings.Repeat("Z", 64), CodeVersion: entrycode.MaxCodeVersion}, 327},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code := sign(t, priv, tc.claims)
			if !strings.HasPrefix(code, entrycode.Prefix) || code != strings.ToUpper(code) {
				t.Fatalf("code %q: want %s and upper case", code, entrycode.Prefix)
			}
			if tc.wantLen != 0 && len(code) != tc.wantLen {
				t.Errorf("len(code) = %d, want %d", len(code), tc.wantLen)
			}
			if len(code) > entrycode.MaxLen {
				t.Errorf("len(code) = %d > MaxLen", len(code))
			}
			for _, variant := range []string{code, strings.ToLower(code)} {
				got, err := entrycode.Verify(pub, variant)
				if err != nil || got != tc.claims {
					t.Fatalf("Verify = %+v, %v; want %+v", got, err, tc.claims)
				}
			}
			if again := sign(t, priv, tc.claims); again != code {
				t.Errorf("Sign is not deterministic: %q then %q", code, again)
			}
		})
	}
}

func TestSignRefusesBadClaimsAndKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		key    ed25519.PrivateKey
		claims entrycode.Claims
		want   error
	}{
		{"empty ticket id", priv, entrycode.Claims{EventID: eventUUID}, entrycode.ErrInvalidClaims},
		{"dotted event id", priv, entrycode.Claims{TicketID: ticketUUID, EventID: "a.b"}, entrycode.ErrInvalidClaims},
		{"long id", priv, entrycode.Claims{TicketID: strings.Repeat("a", 65), EventID: eventUUID}, entrycode.ErrInvalidClaims},
		{"negative version", priv, entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: -1}, entrycode.ErrInvalidClaims},
		{"version too large", priv, entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: entrycode.MaxCodeVersion + 1}, entrycode.ErrInvalidClaims},
		{"no key", nil, entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID}, entrycode.ErrInvalidKey},
		{"a seed, not a key", priv.Seed(), entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID}, entrycode.ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if code, err := entrycode.Sign(tc.key, tc.claims); !errors.Is(err, tc.want) {
				t.Fatalf("Sign = %q, %v; want %v", code, err, tc.want)
			}
		})
	}
}

// TestVerifyRefuses: every way a code can be wrong gets a typed error.
func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	claims := entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: 3}
	code := sign(t, priv, claims)
	payload, sig, _ := strings.Cut(strings.TrimPrefix(code, entrycode.Prefix), ".")
	// Another ticket's payload under this ticket's signature.
	otherPayload, _, _ := strings.Cut(strings.TrimPrefix(sign(t, priv, entrycode.Claims{TicketID: eventUUID, EventID: eventUUID, CodeVersion: 3}), entrycode.Prefix), ".")
	// The same claims signed by another key.
	resigned := sign(t, other, claims)
	// Payloads built by hand, each signed by the right key: their layout,
	// not their signature, is what is wrong.
	withPayload := func(raw []byte) string {
		s := ed25519.Sign(priv, append([]byte("ticketing entry code v1\x00"), raw...))
		return entrycode.Prefix + crockford.EncodeToString(raw) + "." + crockford.EncodeToString(s)
	}
	uuidBytes := []byte{0x01, 0x01, 0x92, 0xf0, 0xc4, 0x5a, 0x6b, 0x7c, 0x8d, 0x9e, 0x0f, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6}
	good := append(append([]byte{3}, uuidBytes...), uuidBytes...)
	if withPayload(good) != sign(t, priv, entrycode.Claims{TicketID: ticketUUID, EventID: ticketUUID, CodeVersion: 3}) {
		t.Fatal("the hand-built payload does not match Sign's: the cases below test nothing")
	}
	// Flip one character of the signature part to another letter.
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}

	tests := []struct {
		name string
		code string
		want error
	}{
		{"empty", "", entrycode.ErrMalformed},
		{"prefix only", entrycode.Prefix, entrycode.ErrMalformed},
		{"another format", "T2." + payload + "." + sig, entrycode.ErrMalformed},
		{"no prefix", payload + "." + sig, entrycode.ErrMalformed},
		{"no signature part", entrycode.Prefix + payload, entrycode.ErrMalformed},
		{"a third part", code + ".AA", entrycode.ErrMalformed},
		{"letter outside the alphabet", entrycode.Prefix + "U" + payload[1:] + "." + sig, entrycode.ErrMalformed},
		{"base64 characters", entrycode.Prefix + payload + "." + sig[:10] + "_" + sig[11:], entrycode.ErrMalformed},
		{"space inside", entrycode.Prefix + payload + " ." + sig, entrycode.ErrMalformed},
		{"leading space", " " + code, entrycode.ErrMalformed},
		{"signature cut by one character", code[:len(code)-1], entrycode.ErrMalformed},
		{"signature cut in half", code[:len(code)-50], entrycode.ErrMalformed},
		{"signature one byte short", entrycode.Prefix + payload + "." + crockford.EncodeToString(make([]byte, 63)), entrycode.ErrMalformed},
		{"signature one byte long", entrycode.Prefix + payload + "." + crockford.EncodeToString(make([]byte, 65)), entrycode.ErrMalformed},
		{"signature's spare bits set", entrycode.Prefix + payload + "." + sig[:len(sig)-1] + "Z", entrycode.ErrMalformed},
		{"payload cut short", entrycode.Prefix + payload[:20] + "." + sig, entrycode.ErrMalformed},
		{"empty payload", entrycode.Prefix + "." + sig, entrycode.ErrMalformed},
		{"a byte after the payload", withPayload(append(good, 0)), entrycode.ErrMalformed},
		{"unknown id form", withPayload(append([]byte{3, 0x02}, good[1:]...)), entrycode.ErrMalformed},
		{"raw id longer than the payload", withPayload([]byte{3, 0x00, 40, 'a', 'b'}), entrycode.ErrMalformed},
		{"raw id not an id", withPayload(append([]byte{3, 0x00, 3, 'a', '.', 'b'}, uuidBytes...)), entrycode.ErrMalformed},
		{"uuid written as text", withPayload(append(append([]byte{3, 0x00, 36}, ticketUUID...), uuidBytes...)), entrycode.ErrMalformed},
		{"codeVersion not minimal", withPayload(append([]byte{0x83, 0x00}, good[1:]...)), entrycode.ErrMalformed},
		{"codeVersion above the range", withPayload(append([]byte{0x80, 0x80, 0x80, 0x80, 0x08}, good[1:]...)), entrycode.ErrMalformed},
		{"codeVersion overflowing", withPayload(append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, good[1:]...)), entrycode.ErrMalformed},
		{"oversized", entrycode.Prefix + strings.Repeat("A", entrycode.MaxLen), entrycode.ErrOversized},
		{"a megabyte", strings.Repeat("T", 1<<20), entrycode.ErrOversized},
		{"forged: another ticket's payload", entrycode.Prefix + otherPayload + "." + sig, entrycode.ErrBadSignature},
		{"forged: a signature character changed", entrycode.Prefix + payload + "." + flip(sig, 5), entrycode.ErrBadSignature},
		{"forged: a payload character changed", entrycode.Prefix + flip(payload, 0) + "." + sig, entrycode.ErrBadSignature},
		{"re-signed with another key", resigned, entrycode.ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := entrycode.Verify(pub, tc.code)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %+v, %v; want %v", got, err, tc.want)
			}
			if got != (entrycode.Claims{}) {
				t.Errorf("refused code returned claims %+v", got)
			}
		})
	}
	if _, err := entrycode.Verify(pub[:31], code); !errors.Is(err, entrycode.ErrInvalidKey) {
		t.Errorf("Verify with a short public key: %v, want ErrInvalidKey", err)
	}
}

func TestShort(t *testing.T) {
	t.Parallel()
	seen := map[string]entrycode.Claims{}
	for v := range 50 {
		for _, ticket := range []string{ticketUUID, eventUUID, "t1"} {
			c := entrycode.Claims{TicketID: ticket, EventID: eventUUID, CodeVersion: v}
			short, err := entrycode.Short(sign(t, priv, c))
			if err != nil {
				t.Fatal(err)
			}
			if len(short) != entrycode.ShortLen {
				t.Fatalf("short %q: want %d characters", short, entrycode.ShortLen)
			}
			if n, err := entrycode.Normalize(short); err != nil || n != short {
				t.Fatalf("short %q is not normalized: %q, %v", short, n, err)
			}
			if prev, ok := seen[short]; ok {
				t.Fatalf("%+v and %+v share the short form %s", prev, c, short)
			}
			seen[short] = c
			// Deterministic, and case does not change it.
			if again, _ := entrycode.Short(strings.ToLower(sign(t, priv, c))); again != short {
				t.Fatalf("short form changed: %s then %s", short, again)
			}
		}
	}
	// Another key, the same claims: another short form.
	c := entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: 1}
	a, _ := entrycode.Short(sign(t, priv, c))
	b, _ := entrycode.Short(sign(t, other, c))
	if a == b {
		t.Errorf("two keys give one short form %s", a)
	}
	for _, bad := range []string{"", "ABCD-EFGH-JKMN", entrycode.Prefix + "00.00", strings.Repeat("T", 1<<16)} {
		if s, err := entrycode.Short(bad); err == nil {
			t.Errorf("Short(%.20q) = %q, want an error", bad, s)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		err      error
	}{
		{"ABCD-EFGH-JKMN", "ABCDEFGHJKMN", nil},
		{"abcd efgh jkmn", "ABCDEFGHJKMN", nil},
		{" 0123456789ab ", "0123456789AB", nil},
		{"IiLl-OoXY-Z123", "111100XYZ123", nil},
		{"a-b-c-d-e-f-g-h-j-k-m-n", "ABCDEFGHJKMN", nil},
		{"\tABCDEFGHJKMN", "ABCDEFGHJKMN", nil},
		{"ABCD-EFGH-JKM", "", entrycode.ErrMalformed},
		{"ABCD-EFGH-JKMNP", "", entrycode.ErrMalformed},
		{"ABCD-EFGH-JKMU", "", entrycode.ErrMalformed},
		{"ABCD.EFGH.JKMN", "", entrycode.ErrMalformed},
		{"ABCD_EFGH_JKMN", "", entrycode.ErrMalformed},
		{"ÄBCD-EFGH-JKMN", "", entrycode.ErrMalformed},
		{"ABCD\x00EFGHJKMN", "", entrycode.ErrMalformed},
		{"", "", entrycode.ErrMalformed},
		{"------------", "", entrycode.ErrMalformed},
		{strings.Repeat("-", 100) + "ABCDEFGHJKMN", "", entrycode.ErrOversized},
	}
	for _, tc := range tests {
		got, err := entrycode.Normalize(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if got := entrycode.Format("ABCDEFGHJKMN"); got != "ABCD-EFGH-JKMN" {
		t.Errorf("Format = %q", got)
	}
	if got := entrycode.Format("ABC"); got != "ABC" {
		t.Errorf("Format(ABC) = %q, want it unchanged", got)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	s := entrycode.GenerateKey()
	k, err := entrycode.ParseKey(s)
	if err != nil {
		t.Fatalf("ParseKey(GenerateKey()): %v", err)
	}
	if entrycode.EncodeKey(k) != s {
		t.Errorf("EncodeKey(ParseKey(%q)) = %q", s, entrycode.EncodeKey(k))
	}
	if entrycode.GenerateKey() == s {
		t.Error("two generated keys are equal")
	}
	for _, ok := range []string{s, strings.TrimRight(s, "="), " " + s + "\n"} {
		if k2, err := entrycode.ParseKey(ok); err != nil || !k2.Equal(k) {
			t.Errorf("ParseKey(%q) = %v; want the same key", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"not base64!",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",         // 30 bytes
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", // 34 bytes
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8-",     // base64url
		strings.Repeat("a", 64),                            // hex of 32 bytes is 48 bytes of base64
	} {
		if _, err := entrycode.ParseKey(bad); !errors.Is(err, entrycode.ErrInvalidKey) {
			t.Errorf("ParseKey(%q) = %v, want ErrInvalidKey", bad, err)
		}
	}
}

// FuzzVerify: no input panics; what Verify accepts is exactly a code Sign
// makes (up to case), so no second text verifies for one claim.
func FuzzVerify(f *testing.F) {
	code := sign(f, priv, entrycode.Claims{TicketID: ticketUUID, EventID: eventUUID, CodeVersion: 1})
	f.Add(code)
	f.Add(strings.ToLower(code))
	f.Add(sign(f, priv, entrycode.Claims{TicketID: "t1", EventID: "e1", CodeVersion: 300}))
	f.Add(sign(f, other, entrycode.Claims{TicketID: "t1", EventID: "e1", CodeVersion: 300}))
	f.Add(code[:len(code)-3])
	f.Add(entrycode.Prefix + ".")
	f.Add("ABCD-EFGH-JKMN")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := entrycode.Verify(pub, s)
		short, serr := entrycode.Short(s)
		if n, nerr := entrycode.Normalize(s); nerr == nil {
			if again, err := entrycode.Normalize(n); len(n) != entrycode.ShortLen || err != nil || again != n {
				t.Fatalf("Normalize(%q) = %q, not a normalized short form", s, n)
			}
		}
		if err != nil {
			if c != (entrycode.Claims{}) {
				t.Fatalf("refused code returned claims %+v", c)
			}
			if !errors.Is(err, entrycode.ErrMalformed) && !errors.Is(err, entrycode.ErrOversized) && !errors.Is(err, entrycode.ErrBadSignature) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := entrycode.Sign(priv, c)
		if err != nil {
			t.Fatalf("verified claims %+v do not sign: %v", c, err)
		}
		if again != strings.ToUpper(s) {
			t.Fatalf("verified %q, but Sign makes %q", s, again)
		}
		if serr != nil || len(short) != entrycode.ShortLen {
			t.Fatalf("Short of a verified code = %q, %v", short, serr)
		}
	})
}
