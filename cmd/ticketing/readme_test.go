package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// readmeBlock returns the shell commands of README.md's section heading:
// its indented lines, unindented.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	in := false
	for sc := bufio.NewScanner(bytes.NewReader(b)); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## "+heading
		case in && strings.HasPrefix(line, "    "):
			out.WriteString(strings.TrimPrefix(line, "    ") + "\n")
		}
	}
	if out.Len() == 0 {
		t.Fatalf("README.md has no commands under %q", heading)
	}
	return out.String()
}

// TestReadmeCurlWalkthrough runs README.md's "Walk through the API with
// curl" as written, with bash and curl, against `up`: sign up, sell,
// reserve, a declined card, pay. The one liberty: a curl answered 404 is
// run again, as the README tells a reader to do while payments catches up
// with an order created a moment ago (orders waits for a new ticket by
// itself).
func TestReadmeCurlWalkthrough(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := tool + " not found: the README's curl walk-through needs it"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	base, _ := startUp(t, t.TempDir(), nil)
	retry404 := `curl() {
  local out code
  for _ in $(seq 50); do
    out=$(command curl -w '\n%{http_code}' "$@") || return
    code=${out##*$'\n'}
    [ "$code" != 404 ] && break
    sleep 0.1
  done
  printf '%s\n' "${out%$'\n'*}"
}
`
	script := retry404 + strings.ReplaceAll(readmeBlock(t, "Walk through the API with curl"), "http://localhost:8080", base)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"email":"ann@example.com"`, `"status":"on_sale"`, `"status":"created"`, `"code":"declined"`, `"code":"own_ticket"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the walk-through's output lacks %s:\n%s", want, out)
		}
	}
	// What it shows next comes a moment after the payment: wait for it.
	bob := newClient(t, base)
	if got := bob.do("POST", "/api/users/signin", map[string]string{"email": "bob@example.com", "password": "correct horse"}, nil); got != http.StatusOK {
		t.Fatalf("Bob signs in = %d", got)
	}
	natsbustest.Eventually(t, 5*time.Second, "Bob's order is complete", func() bool {
		var mine []orderJSON
		bob.do("GET", "/api/orders", nil, &mine)
		return len(mine) == 1 && mine[0].Status == "complete"
	})
}

// TestReadmeScreenshots: every image under docs/screenshots/ that
// README.md shows is there, and every PNG there is shown: a screenshot
// renamed, or added by a browser test (readmeScreenshot) without a place
// in the README, is caught here, where UPDATE_SCREENSHOTS=1 alone would
// not.
func TestReadmeScreenshots(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, m := range regexp.MustCompile(`\]\((docs/screenshots/[^)\s]+)\)`).FindAllSubmatch(readme, -1) {
		shown[string(m[1])] = true
	}
	if len(shown) == 0 {
		t.Fatal("README.md shows no screenshot")
	}
	for p := range shown {
		if _, err := os.Stat(filepath.Join("..", "..", filepath.FromSlash(p))); err != nil {
			t.Errorf("README.md shows %s: %v", p, err)
		}
	}
	pngs, err := filepath.Glob(filepath.Join("..", "..", "docs", "screenshots", "*.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pngs {
		if p := "docs/screenshots/" + filepath.Base(f); !shown[p] {
			t.Errorf("%s is not shown in README.md", p)
		}
	}
}
