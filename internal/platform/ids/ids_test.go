package ids_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/platform/ids"
)

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"uuid v7", uuid.Must(uuid.NewV7()).String(), true},
		{"uuid v4 upper case", strings.ToUpper(uuid.NewString()), true},
		{"short", "t1", true},
		{"underscore and dash", "a_b-c", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"empty", "", false},
		{"65 characters", strings.Repeat("a", 65), false},
		{"5000 characters", strings.Repeat("x", 5000), false},
		{"NUL", "a\x00b", false},
		{"invalid UTF-8", "a\xffb", false},
		{"non-ASCII letter", "é", false},
		{"space", "a b", false},
		{"newline", "a\nb", false},
		{"dot (a subject separator)", "a.b", false},
		{"subject wildcard", "a*", false},
		{"full wildcard", ">", false},
		{"slash", "a/b", false},
		{"percent", "a%00", false},
		{"quote", `a'b`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ids.Valid(tc.id); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
