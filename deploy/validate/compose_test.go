package validate

import (
	"bytes"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
	yamlv3 "gopkg.in/yaml.v3"
)

// composeFile is the part of the Compose specification compose.yaml uses,
// decoded with KnownFields: a misspelt key fails instead of being ignored.
// The x- keys are the anchors the services merge.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
	Volumes       map[string]any `yaml:"volumes"`
	XPart         any            `yaml:"x-part"`
	XEnv          any            `yaml:"x-env"`
	XDependsBusDB any            `yaml:"x-depends-bus-db"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Networks    []string          `yaml:"networks"`
	Profiles    []string          `yaml:"profiles"`
	Restart     string            `yaml:"restart"`
	ReadOnly    bool              `yaml:"read_only"`
	CapDrop     []string          `yaml:"cap_drop"`
	SecurityOpt []string          `yaml:"security_opt"`
	StopGrace   string            `yaml:"stop_grace_period"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	dec := yamlv3.NewDecoder(bytes.NewReader(readFile(t, filepath.Join(repoRoot(t), "deploy", "compose.yaml"))))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	return c
}

// interpolate applies compose's ${VAR:-default} with an empty environment:
// what a fresh checkout runs with. A required ${VAR:?message} (compose
// refuses to start without it) becomes ${VAR}.
func interpolate(s string) string {
	s = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*):\?[^}]*\}`).ReplaceAllString(s, "$${${1}}")
	return regexp.MustCompile(`\$\{[A-Z_]+:?-([^}]*)\}`).ReplaceAllString(s, "$1")
}

// required is what interpolate makes of a required variable.
func required(name string) string { return "${" + name + "}" }

func TestCompose(t *testing.T) {
	c := loadCompose(t)
	parts := codeParts(t)
	root := repoRoot(t)

	var subnets []netip.Prefix
	for name, n := range c.Networks {
		for _, cfg := range n.IPAM.Config {
			p, err := netip.ParsePrefix(cfg.Subnet)
			if err != nil {
				t.Errorf("compose.yaml: network %s: %v", name, err)
			}
			subnets = append(subnets, p)
		}
	}

	byPart := map[string]string{}
	for name, s := range c.Services {
		where := "compose.yaml: service " + name
		for dep, d := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s: depends on %s, which is no service", where, dep)
			}
			if !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, d.Condition) {
				t.Errorf("%s: depends_on %s: condition %q", where, dep, d.Condition)
			} else if d.Condition == "service_healthy" && c.Services[dep].Healthcheck == nil {
				t.Errorf("%s: waits for %s to be healthy, which has no healthcheck", where, dep)
			}
		}
		for _, n := range s.Networks {
			if _, ok := c.Networks[n]; !ok {
				t.Errorf("%s: network %s is not declared", where, n)
			}
		}
		for _, v := range s.Volumes {
			if vol, _, _ := strings.Cut(v, ":"); !strings.HasPrefix(vol, ".") && !strings.HasPrefix(vol, "/") {
				if _, ok := c.Volumes[vol]; !ok {
					t.Errorf("%s: volume %s is not declared", where, vol)
				}
			}
		}
		if len(s.Ports) > 0 && name != "gateway" {
			t.Errorf("%s: publishes %v; only the gateway is published", where, s.Ports)
		}
		if s.Image != ticketingImage {
			continue
		}
		// A part.
		if len(s.Command) != 2 || s.Command[0] != "serve" || !slices.Contains(partNames(parts), s.Command[1]) {
			t.Errorf("%s: command %q, want [serve PART] with a part of %v", where, s.Command, partNames(parts))
			continue
		}
		part := s.Command[1]
		if prev, dup := byPart[part]; dup {
			t.Errorf("%s: part %s runs in %s too", where, part, prev)
		}
		byPart[part] = name
		if name != part {
			t.Errorf("%s: runs %s; name the service after its part (the URL variables' defaults do)", where, part)
		}
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: build it from deploy/Dockerfile", where)
		} else if ctx, _ := filepath.Abs(filepath.Join(root, "deploy", s.Build.Context)); ctx != root {
			t.Errorf("%s: build context %s is not the repository root", where, s.Build.Context)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: want read_only and cap_drop ALL, as in Kubernetes", where)
		}

		var names []string
		for n := range s.Environment {
			names = append(names, n)
		}
		checkEnvNames(t, where, names)
		env := func(n string) string { return interpolate(s.Environment[n]) }
		info := parts[slices.IndexFunc(parts, func(p partInfo) bool { return p.name == part })]
		// No default for a secret: compose refuses to start without it.
		if env("JWT_KEY") != required("JWT_KEY") {
			t.Errorf("%s: JWT_KEY=%q; want ${JWT_KEY:?...}, no default key", where, s.Environment["JWT_KEY"])
		}
		if _, set := s.Environment["TICKET_SIGNING_KEY"]; info.codes && env("TICKET_SIGNING_KEY") != required("TICKET_SIGNING_KEY") {
			t.Errorf("%s: TICKET_SIGNING_KEY=%q; want ${TICKET_SIGNING_KEY:?...}, no default key", where, s.Environment["TICKET_SIGNING_KEY"])
		} else if !info.codes && set {
			t.Errorf("%s: sets TICKET_SIGNING_KEY; the part neither signs nor verifies entry codes", where)
		}
		checkComposeNATSUser(t, c, where, info, env)
		if env("COOKIE_SECURE") != "false" {
			t.Errorf("%s: COOKIE_SECURE must be false: compose serves plain HTTP", where)
		}
		if info.events {
			if u, err := url.Parse(env("NATS_URL")); err != nil || c.Services[u.Hostname()].Image == "" {
				t.Errorf("%s: NATS_URL %q is no service", where, env("NATS_URL"))
			} else if s.DependsOn[u.Hostname()].Condition != "service_healthy" {
				t.Errorf("%s: wait for %s to be healthy", where, u.Hostname())
			}
		}
		if info.db {
			// The part's own role (k8s/postgres/roles.sql), its password the
			// one the postgres service gives the role.
			pw := strings.ToUpper(part) + "_DB_PASSWORD"
			pg := c.Services["postgres"].Environment
			want := "postgres://" + part + ":" + required(pw) + "@postgres:5432/" + pg["POSTGRES_DB"] + "?sslmode=disable"
			if env("DATABASE_URL") != want || interpolate(pg[pw]) != required(pw) {
				t.Errorf("%s: DATABASE_URL=%q; want %q, with %s set (required) on the postgres service", where, env("DATABASE_URL"), want, pw)
			}
			if s.DependsOn["postgres"].Condition != "service_healthy" {
				t.Errorf("%s: wait for postgres to be healthy", where)
			}
		} else if env("DATABASE_URL") != "" {
			t.Errorf("%s: the part has no database; do not hand it a role", where)
		}
		for v, target := range partURLs {
			if raw := env(v); raw != "" {
				u, err := url.Parse(raw)
				if err != nil || u.Hostname() != target || c.Services[target].Image != ticketingImage {
					t.Errorf("%s: %s=%q is not the %s service", where, v, raw, target)
				}
			}
		}
		if part == "gateway" {
			for v := range partURLs {
				if v != "GATEWAY_URL" && env(v) == "" {
					t.Errorf("%s: set %s", where, v)
				}
			}
		}
		if part == "web" && env("GATEWAY_URL") == "" {
			t.Errorf("%s: set GATEWAY_URL", where)
		}
		for _, cidr := range strings.Split(env("TRUSTED_PROXIES"), ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
			if err != nil {
				t.Errorf("%s: TRUSTED_PROXIES: %v", where, err)
				continue
			}
			for _, sub := range subnets {
				if !p.Contains(sub.Addr()) || p.Bits() > sub.Bits() {
					t.Errorf("%s: TRUSTED_PROXIES %s does not cover the compose network %s", where, p, sub)
				}
			}
		}
		if len(subnets) == 0 {
			t.Errorf("compose.yaml: give the network a fixed subnet for TRUSTED_PROXIES")
		}

		// The health check asks /readyz on the port TICKETING_ADDR listens on.
		port := servePort
		if a := env("TICKETING_ADDR"); a != "" {
			port = addrPort(t, where, a)
		}
		hc := s.Healthcheck
		if hc == nil || len(hc.Test) != 3 || hc.Test[0] != "CMD" || hc.Test[1] != healthcheckBinary {
			t.Errorf("%s: healthcheck must be [CMD %s URL] (the image has no shell)", where, healthcheckBinary)
		} else if u, err := url.Parse(hc.Test[2]); err != nil || u.Path != "/readyz" || u.Port() != strconv.Itoa(port) {
			t.Errorf("%s: healthcheck asks %s, want /readyz on port %d", where, hc.Test[2], port)
		}
		if part == "gateway" {
			// On the loopback only: plain HTTP, COOKIE_SECURE=false.
			if !slices.Equal(s.Ports, []string{"127.0.0.1:" + strconv.Itoa(servePort) + ":" + strconv.Itoa(port)}) {
				t.Errorf("%s: publish 127.0.0.1:%d:%d, got %v", where, servePort, port, s.Ports)
			}
			for _, p := range parts {
				if p.name != "gateway" && p.name != "expiration" && s.DependsOn[p.name].Condition != "service_healthy" {
					t.Errorf("%s: wait for %s to be healthy", where, p.name)
				}
			}
		}
	}
	for _, p := range parts {
		if byPart[p.name] == "" {
			t.Errorf("compose.yaml: no service runs part %s", p.name)
		}
	}

	nats := c.Services["nats"]
	checkNATSImage(t, "compose.yaml: service nats", nats.Image)
	checkComposeNATS(t, nats)
	if nats.Healthcheck == nil {
		t.Error("compose.yaml: nats has no healthcheck")
	}
	if pg := c.Services["postgres"]; pg.Image != postgresImage || pg.Healthcheck == nil {
		t.Errorf("compose.yaml: postgres must be %s with a healthcheck", postgresImage)
	} else {
		if interpolate(pg.Environment["POSTGRES_PASSWORD"]) != required("POSTGRES_PASSWORD") {
			t.Error("compose.yaml: postgres: POSTGRES_PASSWORD must be ${POSTGRES_PASSWORD:?...}, no default")
		}
		if !slices.Contains(pg.Volumes, "./k8s/postgres/roles.sql:/docker-entrypoint-initdb.d/roles.sql:ro") {
			t.Error("compose.yaml: postgres must run k8s/postgres/roles.sql at its first start (/docker-entrypoint-initdb.d)")
		}
		checkRolesSQL(t, string(readFile(t, filepath.Join(root, "deploy", "k8s", "postgres", "roles.sql"))))
	}
	if sm, ok := c.Services["stripe-mock"]; ok && len(sm.Profiles) == 0 {
		t.Error("compose.yaml: stripe-mock must be optional (a profile)")
	}
}

// The same images in compose.yaml and the manifests.
func TestComposeAndManifestsAgree(t *testing.T) {
	c := loadCompose(t)
	m := loadManifests(t)
	if got, want := c.Services["nats"].Image, m.statefulSets["nats"].Spec.Template.Spec.Containers[0].Image; got != want {
		t.Errorf("NATS: compose.yaml runs %s, deploy/k8s %s", got, want)
	}
	if got, want := c.Services["postgres"].Image, m.statefulSets["postgres"].Spec.Template.Spec.Containers[0].Image; got != want {
		t.Errorf("PostgreSQL: compose.yaml runs %s, deploy/k8s %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "deploy", "Dockerfile")); err != nil {
		t.Error(err)
	}
}

// checkComposeNATSUser: a part that uses events connects as its own user,
// with the password the nats service gives that user; another has none.
func checkComposeNATSUser(t *testing.T, c composeFile, where string, info partInfo, env func(string) string) {
	t.Helper()
	pw := strings.ToUpper(info.name) + "_NATS_PASSWORD"
	if !info.events {
		if env("NATS_USER") != "" || env("NATS_PASSWORD") != "" {
			t.Errorf("%s: the part does not use NATS; do not hand it a NATS user", where)
		}
		return
	}
	if env("NATS_USER") != info.name || env("NATS_PASSWORD") != required(pw) {
		t.Errorf("%s: NATS_USER=%q NATS_PASSWORD=%q; want %s and ${%s:?...}", where, env("NATS_USER"), env("NATS_PASSWORD"), info.name, pw)
	}
	if interpolate(c.Services["nats"].Environment[pw]) != required(pw) {
		t.Errorf("compose.yaml: nats must set %s (required) for auth.conf", pw)
	}
}

// checkComposeNATS parses the compose server's configuration, with
// k8s/nats/auth.conf beside it as the service mounts them, with the
// nats-server the tests embed.
func checkComposeNATS(t *testing.T, nats composeService) {
	t.Helper()
	var conf string
	for i, a := range nats.Command {
		if (a == "--config" || a == "-c") && i+1 < len(nats.Command) {
			conf = nats.Command[i+1]
		}
	}
	mounts := map[string]string{} // container path -> file under deploy/
	for _, v := range nats.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && strings.HasPrefix(parts[0], "./") {
			mounts[parts[1]] = parts[0]
		}
	}
	if conf == "" || mounts[conf] == "" {
		t.Fatalf("compose.yaml: nats must run --config with a file mounted from deploy/, got %v and %v", nats.Command, nats.Volumes)
	}
	if mounts[path.Join(path.Dir(conf), "auth.conf")] != "./k8s/nats/auth.conf" {
		t.Errorf("compose.yaml: nats must mount ./k8s/nats/auth.conf beside %s (the users the Kubernetes servers have)", conf)
	}
	dir := t.TempDir()
	for target, src := range mounts {
		if path.Dir(target) != path.Dir(conf) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(target)), readFile(t, filepath.Join(repoRoot(t), "deploy", src)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name := range nats.Environment {
		t.Setenv(name, "validate-"+name)
	}
	opts, err := natsserver.ProcessConfigFile(filepath.Join(dir, path.Base(conf)))
	if err != nil {
		t.Fatalf("compose.yaml: nats %s: %v", conf, err)
	}
	if !opts.JetStream {
		t.Error("compose.yaml: nats: JetStream is off")
	}
	checkNATSUsers(t, "compose.yaml nats", opts)
}
