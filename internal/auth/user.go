package auth

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// Password length bounds, in characters (not bytes): a passphrase in a
// script of multi-byte letters must not be held to a shorter limit.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// maxEmailLen is the longest address SMTP can deliver to (RFC 5321: a
// 256-octet path minus the angle brackets).
const maxEmailLen = 254

// User is an account. Email is always in normal form (see NormalizeEmail).
type User struct {
	ID           string
	Email        string
	PasswordHash string
	CreatedAt    time.Time
	// Organizer says an operator made the account an organizer (`ticketing
	// admin organizer grant`); the session tokens issued from then on say
	// so too.
	Organizer bool
}

// NormalizeEmail trims surrounding space and lower-cases the address, so
// "  Ann@Example.COM " and "ann@example.com" are one account.
func NormalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// EmailProblem says what is wrong with a normalised email address, or ""
// when it is acceptable: a bare addr-spec (no display name, no quoting)
// whose domain has at least one dot, as the original's isEmail required.
func EmailProblem(email string) string {
	if email == "" {
		return "Email is required"
	}
	if len(email) > maxEmailLen {
		return "Email must be valid"
	}
	a, err := mail.ParseAddress(email)
	// ParseAddress also accepts "Name <a@b>" and quoted local parts; asking
	// for the address to come back unchanged keeps only the plain form.
	if err != nil || a.Name != "" || a.Address != email {
		return "Email must be valid"
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if at > 64 || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "Email must be valid"
	}
	return ""
}

// PasswordProblem says what is wrong with a new password, or "" when it is
// acceptable. The password is used as given: spaces are meaningful.
func PasswordProblem(password string) string {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		return "Password must be between 8 and 128 characters"
	}
	return ""
}

// checkSignUp validates a sign-up of a normalised email, reporting every
// bad field at once.
func checkSignUp(email, password string) error {
	var p fault.Problems
	if msg := EmailProblem(email); msg != "" {
		p.Add("email", msg)
	}
	if msg := PasswordProblem(password); msg != "" {
		p.Add("password", msg)
	}
	return p.Err()
}

// checkSignIn validates a sign-in of a normalised email. Only the shape is
// checked: a password of any length is simply compared (and fails).
func checkSignIn(email, password string) error {
	var p fault.Problems
	if msg := EmailProblem(email); msg != "" {
		p.Add("email", msg)
	}
	if password == "" {
		p.Add("password", "You must supply a password")
	}
	return p.Err()
}
