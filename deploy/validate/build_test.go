package validate

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStaticBuild runs the Dockerfile's build command (no Docker here) and
// checks the result would run on distroless static: no dynamic loader, no
// libc. Then it asks the binary which parts `serve` takes. -short skips it:
// it compiles the whole program.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not building the binary")
	}
	root := repoRoot(t)
	out := t.TempDir() + string(filepath.Separator)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/ticketing", "./deploy/healthcheck")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, b)
	}
	for _, name := range []string{"ticketing", "healthcheck"} {
		f, err := elf.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is dynamically linked; distroless static has no libc", name)
			}
		}
		f.Close()
	}

	// `ticketing serve` with no part lists them: the ones the deploy files run.
	b, err := exec.Command(filepath.Join(out, "ticketing"), "serve").CombinedOutput()
	_, list, ok := strings.Cut(string(b), "one of ")
	if err == nil || !ok {
		t.Fatalf("ticketing serve: want an error listing the parts, got %v: %s", err, b)
	}
	var got []string
	for _, p := range strings.Split(strings.TrimSpace(list), ",") {
		got = append(got, strings.TrimSpace(p))
	}
	want := partNames(codeParts(t))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the binary serves %v; deploy/validate read %v from parts.go", got, want)
	}
}
