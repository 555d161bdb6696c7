package validate

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// healthcheckBinary is where the Dockerfile puts deploy/healthcheck.
const healthcheckBinary = "/healthcheck"

// dockerInstr is one instruction of a Dockerfile, continuation lines joined.
type dockerInstr struct{ op, args string }

func parseDockerfile(t *testing.T) []dockerInstr {
	t.Helper()
	var out []dockerInstr
	var cur string
	for _, line := range strings.Split(string(readFile(t, filepath.Join(repoRoot(t), "deploy", "Dockerfile"))), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (cur == "" && trimmed == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		op, args, _ := strings.Cut(cur, " ")
		out = append(out, dockerInstr{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

func TestDockerfile(t *testing.T) {
	instrs := parseDockerfile(t)
	goVersion, _ := goMod(t)
	var froms []string
	var runs, copies []string
	last := map[string]string{} // of the final stage
	for _, in := range instrs {
		switch in.op {
		case "FROM":
			froms = append(froms, in.args)
			last = map[string]string{}
		case "RUN":
			runs = append(runs, in.args)
		case "COPY":
			copies = append(copies, in.args)
		}
		last[in.op] = in.args
		if in.op == "COPY" {
			last["COPY "+in.args] = in.args
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: want a builder and a runtime stage, got FROM %v", froms)
	}
	if want := "golang:" + minorOf(goVersion) + " AS build"; froms[0] != want {
		t.Errorf("Dockerfile: builder FROM %q, want %q (go.mod says go %s)", froms[0], want, goVersion)
	}
	runtime := froms[len(froms)-1]
	if !strings.HasPrefix(runtime, "gcr.io/distroless/static") || !strings.HasSuffix(runtime, ":nonroot") {
		t.Errorf("Dockerfile: runtime FROM %q, want distroless static (CA certificates, no libc, nonroot)", runtime)
	}
	build := strings.Join(runs, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/ticketing", "./deploy/healthcheck"} {
		if !strings.Contains(build, want) {
			t.Errorf("Dockerfile: the build does not use %s", want)
		}
	}
	if u := last["USER"]; u == "" || u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("Dockerfile: runtime USER %q; run as a non-root, numeric user", u)
	}
	if last["ENTRYPOINT"] != `["/ticketing"]` {
		t.Errorf("Dockerfile: ENTRYPOINT %s, want [\"/ticketing\"] (the manifests pass only args)", last["ENTRYPOINT"])
	}
	if last["EXPOSE"] != "8080" {
		t.Errorf("Dockerfile: EXPOSE %q, want the serve port 8080", last["EXPOSE"])
	}
	for _, dst := range []string{"/ticketing", healthcheckBinary} {
		found := false
		for _, c := range copies {
			found = found || (strings.HasPrefix(c, "--from=build ") && strings.HasSuffix(c, " "+dst))
		}
		if !found {
			t.Errorf("Dockerfile: the runtime stage does not COPY --from=build to %s", dst)
		}
	}
}

// .dockerignore must not keep out what the build needs.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum", "cmd/ticketing/main.go", "internal/web/api.go", "deploy/healthcheck/main.go", "deploy/Dockerfile"}
	for _, line := range strings.Split(string(b), "\n") {
		pat := strings.TrimSpace(line)
		if pat == "" || strings.HasPrefix(pat, "#") || strings.HasPrefix(pat, "!") {
			continue
		}
		pat = strings.TrimPrefix(strings.TrimPrefix(pat, "**/"), "/")
		for _, n := range needed {
			for p := n; p != "."; p = path.Dir(p) {
				if ok, _ := path.Match(pat, p); ok {
					t.Errorf(".dockerignore: %q keeps out %s, which the build needs", line, n)
				}
			}
		}
	}
}
