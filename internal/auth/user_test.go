package auth

import (
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	if got := NormalizeEmail("  Ann.Lee@Example.COM\t\n"); got != "ann.lee@example.com" {
		t.Errorf("NormalizeEmail = %q", got)
	}
}

func TestEmailProblem(t *testing.T) {
	tests := []struct {
		email string
		ok    bool
	}{
		{"ann@example.com", true},
		{"ann.lee+tickets@mail.example.co.uk", true},
		{"", false},
		{"ann", false},
		{"ann@", false},
		{"@example.com", false},
		{"ann@example", false},
		{"ann@.example.com", false},
		{"ann@example.com.", false},
		{"ann@example..com", false},
		{"ann lee@example.com", false},
		{`"ann lee"@example.com`, false},
		{"Ann <ann@example.com>", false},
		{"ann@example.com, bob@example.com", false},
		{"ann@exa\x00mple.com", false},
		{strings.Repeat("a", 65) + "@example.com", false},
		{"a@" + strings.Repeat("b", 250) + ".com", false},
	}
	for _, tc := range tests {
		if got := EmailProblem(tc.email) == ""; got != tc.ok {
			t.Errorf("EmailProblem(%q) ok = %v, want %v", tc.email, got, tc.ok)
		}
	}
}

func TestPasswordProblem(t *testing.T) {
	tests := []struct {
		password string
		ok       bool
	}{
		{strings.Repeat("a", 7), false},
		{strings.Repeat("a", 8), true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("ß", 7), false}, // 14 bytes, 7 characters
		{strings.Repeat("ß", 8), true},
		{strings.Repeat("語", 128), true}, // 384 bytes
		{strings.Repeat("語", 129), false},
		{"        ", true}, // spaces are characters
	}
	for _, tc := range tests {
		if got := PasswordProblem(tc.password) == ""; got != tc.ok {
			t.Errorf("PasswordProblem(%d runes, %d bytes) ok = %v, want %v",
				len([]rune(tc.password)), len(tc.password), got, tc.ok)
		}
	}
}
