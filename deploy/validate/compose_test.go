package validate

import (
	"bytes"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

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
// what a fresh checkout runs with.
func interpolate(s string) string {
	return regexp.MustCompile(`\$\{[A-Z_]+:?-([^}]*)\}`).ReplaceAllString(s, "$1")
}

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
		if len(env("JWT_KEY")) < 32 {
			t.Errorf("%s: JWT_KEY (with no .env) shorter than 32 characters: serve refuses to start", where)
		}
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
			u, err := url.Parse(env("DATABASE_URL"))
			if err != nil || c.Services[u.Hostname()].Image != postgresImage {
				t.Errorf("%s: DATABASE_URL %q is not the postgres service", where, env("DATABASE_URL"))
			} else {
				pg := c.Services[u.Hostname()].Environment
				pass, _ := u.User.Password()
				if u.User.Username() != pg["POSTGRES_USER"] || pass != pg["POSTGRES_PASSWORD"] || strings.TrimPrefix(u.Path, "/") != pg["POSTGRES_DB"] {
					t.Errorf("%s: DATABASE_URL's user, password or database differ from the postgres service's", where)
				}
				if s.DependsOn[u.Hostname()].Condition != "service_healthy" {
					t.Errorf("%s: wait for %s to be healthy", where, u.Hostname())
				}
			}
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
			if !slices.Equal(s.Ports, []string{strconv.Itoa(servePort) + ":" + strconv.Itoa(port)}) {
				t.Errorf("%s: publish %d:%d, got %v", where, servePort, port, s.Ports)
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
	if !slices.Contains(nats.Command, "-js") {
		t.Error("compose.yaml: nats must run with -js (JetStream)")
	}
	if nats.Healthcheck == nil {
		t.Error("compose.yaml: nats has no healthcheck")
	}
	if pg := c.Services["postgres"]; pg.Image != postgresImage || pg.Healthcheck == nil {
		t.Errorf("compose.yaml: postgres must be %s with a healthcheck", postgresImage)
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
