package validate

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Facts about the repository the deploy files must agree with.
const (
	// ticketingImage is the image every part runs, in compose.yaml and in
	// the manifests (kustomization.yaml's images entry renames it).
	ticketingImage = "ticketing:dev"
	// servePort is the port of TICKETING_ADDR=":8080", the serve default.
	servePort = 8080
	// shutdownSeconds bounds the binary's graceful shutdown (App.Wait in
	// cmd/ticketing/app.go), after it has drained for SHUTDOWN_GRACE
	// (graceSeconds, the serve default).
	shutdownSeconds = 20
	graceSeconds    = 5
	// postgresImage is PostgreSQL 16, in compose.yaml and the manifests.
	postgresImage = "postgres:16-alpine"
	// minNATS is the oldest nats-server `serve` accepts (message schedules).
	minNATSMinor = 12
)

// dbParts use DATABASE_URL (README: "web and expiration no database"; the
// gateway has none either).
var dbParts = []string{"auth", "tickets", "orders", "payments", "events"}

// runtimeEnv are variables the deploy files may set that belong to the
// images they run, not to ticketing (PostgreSQL's image, NATS' config).
// The roles' and NATS users' passwords are the images' too: roles.sql and
// auth.conf read them.
var runtimeEnv = []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATA", "POD_NAME",
	"AUTH_DB_PASSWORD", "TICKETS_DB_PASSWORD", "ORDERS_DB_PASSWORD", "PAYMENTS_DB_PASSWORD", "EVENTS_DB_PASSWORD",
	"AUTH_NATS_PASSWORD", "TICKETS_NATS_PASSWORD", "ORDERS_NATS_PASSWORD", "EXPIRATION_NATS_PASSWORD", "PAYMENTS_NATS_PASSWORD",
	"EVENTS_NATS_PASSWORD"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "ticketing", "parts.go")); err != nil {
		t.Fatalf("repository root not at %s: %v", root, err)
	}
	return root
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readmeEnv returns the variables named in the first column of README.md's
// configuration table.
func readmeEnv(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	name := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(line) == "## Configuration"
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			names[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 || !names["JWT_KEY"] || !names["NATS_URL"] {
		t.Fatalf("README.md's configuration table: found only %v", names)
	}
	return names
}

// codeEnv returns the variables cmd/ticketing/config.go reads: the first
// argument of its env, envInt, envBool and envDur calls.
func codeEnv(t *testing.T) map[string]bool {
	t.Helper()
	f := parseGo(t, filepath.Join(repoRoot(t), "cmd", "ticketing", "config.go"))
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		id, ok := call.Fun.(*ast.Ident)
		if !ok || !slices.Contains([]string{"env", "envInt", "envBool", "envDur"}, id.Name) {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			names[s] = true
		}
		return true
	})
	if !names["JWT_KEY"] || !names["GATEWAY_URL"] {
		t.Fatalf("cmd/ticketing/config.go: found only %v", names)
	}
	return names
}

// partInfo is what the deploy files need to know of a part.
type partInfo struct {
	name   string
	events bool // connects to NATS_URL
	db     bool // uses DATABASE_URL
	api    bool // has a prefix: serves an API, so follows session.revoked
	codes  bool // signs or verifies entry codes: needs TICKET_SIGNING_KEY
}

// codeParts returns the parts `ticketing serve` accepts: "gateway" and the
// name of each entry of catalog() in cmd/ticketing/parts.go.
func codeParts(t *testing.T) []partInfo {
	t.Helper()
	f := parseGo(t, filepath.Join(repoRoot(t), "cmd", "ticketing", "parts.go"))
	parts := []partInfo{{name: "gateway"}}
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "catalog" {
			return true
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			var p partInfo
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key, _ := kv.Key.(*ast.Ident)
				switch {
				case key == nil:
				case key.Name == "name":
					if v, ok := kv.Value.(*ast.BasicLit); ok {
						p.name, _ = strconv.Unquote(v.Value)
					}
				case key.Name == "prefix":
					if v, ok := kv.Value.(*ast.BasicLit); ok {
						prefix, _ := strconv.Unquote(v.Value)
						p.api = prefix != ""
					}
				case key.Name == "events":
					if v, ok := kv.Value.(*ast.Ident); ok {
						p.events = v.Name == "true"
					}
				case key.Name == "codes":
					if v, ok := kv.Value.(*ast.Ident); ok {
						p.codes = v.Name == "true"
					}
				}
			}
			if p.name != "" {
				p.db = slices.Contains(dbParts, p.name)
				parts = append(parts, p)
			}
			return true
		})
		return false
	})
	if len(parts) < 7 {
		t.Fatalf("cmd/ticketing/parts.go: found only %v", parts)
	}
	return parts
}

func partNames(parts []partInfo) []string {
	var names []string
	for _, p := range parts {
		names = append(names, p.name)
	}
	return names
}

func parseGo(t *testing.T, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// goModRequire returns the version the main module requires of a module,
// and its go directive.
func goMod(t *testing.T) (goVersion string, require map[string]string) {
	t.Helper()
	require = map[string]string{}
	for _, line := range strings.Split(string(readFile(t, filepath.Join(repoRoot(t), "go.mod"))), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 2 && fields[0] == "go":
			goVersion = fields[1]
		case len(fields) >= 2 && strings.Contains(fields[0], ".") && strings.HasPrefix(fields[1], "v"):
			require[fields[0]] = fields[1]
		case len(fields) >= 3 && fields[0] == "require" && strings.HasPrefix(fields[2], "v"):
			require[fields[1]] = fields[2]
		}
	}
	return goVersion, require
}

// minorOf returns "1.26" of "1.26.8" or "v1.26.8", "2.15" of "2.15-alpine".
func minorOf(v string) string {
	v = strings.TrimPrefix(v, "v")
	v, _, _ = strings.Cut(v, "-")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// checkEnvNames reports every name that README.md's table or config.go does
// not know.
func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	readme, code := readmeEnv(t), codeEnv(t)
	for _, n := range names {
		if !readme[n] {
			t.Errorf("%s: %s is not in README.md's configuration table", where, n)
		}
		if !code[n] {
			t.Errorf("%s: %s is not read by cmd/ticketing/config.go", where, n)
		}
	}
}

func TestRepoFacts(t *testing.T) {
	// The extractors above must see what the deploy files are checked
	// against; a refactor of config.go or parts.go that hides it fails here.
	readme, code := readmeEnv(t), codeEnv(t)
	for n := range code {
		if !readme[n] {
			t.Errorf("cmd/ticketing/config.go reads %s, which README.md's configuration table does not list", n)
		}
	}
	want := []string{"gateway", "auth", "tickets", "orders", "expiration", "payments", "events", "web"}
	got := partNames(codeParts(t))
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("parts = %v, want %v (update deploy/ for a new part)", got, want)
	}
}
