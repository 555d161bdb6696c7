package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
// reserve, a declined card, pay, and the order complete and ticket sold as
// the README's own reads show them. The liberties: a curl answered 404 is
// run again, as the README tells a reader to do while payments catches up
// with an order created a moment ago (orders waits for a new ticket by
// itself); so is a read still showing the order or ticket before the
// payment took effect, which the README says comes "a moment later".
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
	// A GET still showing the order unpaid or its ticket reserved is run
	// again too, as a reader who reads "a moment later" would: only the
	// answers after the payment show those, and they move on once the
	// payment's events are handled. 50 tries 0.1 s apart bound the wait.
	retry := `curl() {
  local out code body get=1 a
  for a; do [ "$a" = -d ] && get=; done
  for _ in $(seq 50); do
    out=$(command curl -w '\n%{http_code}' "$@") || return
    code=${out##*$'\n'}
    body=${out%$'\n'*}
    if [ "$code" != 404 ] && ! { [ -n "$get" ] && [[ $body =~ \"status\":\"(created|awaiting:payment|reserved)\" ]]; }; then
      break
    fi
    sleep 0.1
  done
  printf '%s\n' "$body"
}
`
	script := retry + strings.ReplaceAll(readmeBlock(t, "Walk through the API with curl"), "http://localhost:8080", base)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"email":"ann@example.com"`, `"status":"on_sale"`, `"status":"created"`, `"fee":2.55,"total":23.05`, `"code":"declined"`, `"code":"own_ticket"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the walk-through's output lacks %s:\n%s", want, out)
		}
	}
	// The README's own reads after the payment: the order is complete and
	// its ticket sold. Each answer is a line; the ids are those of the
	// listing and of the reservation.
	lines := strings.Split(string(out), "\n")
	ticket := answerID(lineWith(lines, `[{"id":"`, `"title":"Concert"`))
	order := answerID(lineWith(lines, `{"id":"`, `"status":"created"`))
	for _, end := range []struct{ id, what, want string }{
		{order, "order", `"status":"complete"`},
		{ticket, "ticket", `"status":"sold"`},
	} {
		if end.id == "" || lineWith(lines, `{"id":"`+end.id+`"`, end.want) == "" {
			t.Errorf("the walk-through does not show the %s %q ending %s:\n%s", end.what, end.id, end.want, out)
		}
	}
}

// lineWith returns the first of lines that starts with prefix and
// contains each of subs, or "".
func lineWith(lines []string, prefix string, subs ...string) string {
	for _, l := range lines {
		ok := strings.HasPrefix(l, prefix)
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return l
		}
	}
	return ""
}

// answerID is the id of a JSON answer or of the first element of a list:
// its first field, as the README's id() reads it.
func answerID(line string) string {
	m := regexp.MustCompile(`^\[?\{"id":"([^"]+)"`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return m[1]
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
