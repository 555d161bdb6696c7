package validate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// operatorSecrets are the Secrets the operator creates (deploy/README.md
// says how) and their keys. None ships in deploy/k8s, so none runs with a
// placeholder; a pod that needs one that is missing does not start.
var operatorSecrets = map[string][]string{
	"ticketing-secrets":    {"JWT_KEY", "TICKET_SIGNING_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"},
	"ticketing-database":   {"auth", "tickets", "orders", "payments", "events"},
	"ticketing-nats":       {"auth", "tickets", "orders", "expiration", "payments", "events"},
	"postgres-credentials": {"POSTGRES_PASSWORD", "auth", "tickets", "orders", "payments", "events"},
	"nats-tls":             {"tls.crt", "tls.key", "ca.crt"},
}

// optionalSecretKeys may be missing: an empty Stripe key is the sandbox
// (and the webhook's secret goes with the key: payments refuses to start
// with the one and not the other).
var optionalSecretKeys = []string{"ticketing-secrets/STRIPE_SECRET_KEY", "ticketing-secrets/STRIPE_WEBHOOK_SECRET"}

func checkSecretRef(t *testing.T, where string, r *corev1.SecretKeySelector) {
	t.Helper()
	if !slices.Contains(operatorSecrets[r.Name], r.Key) {
		t.Errorf("%s: Secret %s key %s is none the operator creates (operatorSecrets, deploy/README.md)", where, r.Name, r.Key)
	}
	if ptrOr(r.Optional, false) && !slices.Contains(optionalSecretKeys, r.Name+"/"+r.Key) {
		t.Errorf("%s: Secret %s key %s is optional: a missing secret must stop the pod", where, r.Name, r.Key)
	}
}

func checkSecretVolume(t *testing.T, where string, v corev1.Volume) {
	t.Helper()
	keys, ok := operatorSecrets[v.Secret.SecretName]
	if !ok {
		t.Errorf("%s: volume %s: Secret %s is none the operator creates", where, v.Name, v.Secret.SecretName)
	}
	if ptrOr(v.Secret.Optional, false) {
		t.Errorf("%s: volume %s: Secret %s is optional: a missing secret must stop the pod", where, v.Name, v.Secret.SecretName)
	}
	for _, it := range v.Secret.Items {
		if !slices.Contains(keys, it.Key) {
			t.Errorf("%s: volume %s: Secret %s has no key %s", where, v.Name, v.Secret.SecretName, it.Key)
		}
	}
}

// envRef is the secretKeyRef of a container's variable, or nil.
func envRef(c corev1.Container, name string) (e *corev1.EnvVar, ref *corev1.SecretKeySelector) {
	for i := range c.Env {
		if c.Env[i].Name == name {
			if c.Env[i].ValueFrom != nil {
				return &c.Env[i], c.Env[i].ValueFrom.SecretKeyRef
			}
			return &c.Env[i], nil
		}
	}
	return nil, nil
}

// secretFile is where a container sees key of Secret secret as a file, or "".
func secretFile(spec corev1.PodSpec, c corev1.Container, secret, key string) string {
	for _, v := range spec.Volumes {
		if v.Secret == nil || v.Secret.SecretName != secret {
			continue
		}
		file := key
		if len(v.Secret.Items) > 0 {
			file = ""
			for _, it := range v.Secret.Items {
				if it.Key == key {
					file = it.Path
				}
			}
		}
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name && file != "" {
				return path.Join(vm.MountPath, file)
			}
		}
	}
	return ""
}

// checkPartSecrets: each part gets the shared JWT key, the entry-code
// signing key when it signs or verifies codes, its own database role when
// it has a database, and its own NATS user, over TLS, when it uses events;
// nothing of the others.
func checkPartSecrets(t *testing.T, m *manifests, p partInfo, d *appsv1.Deployment) {
	t.Helper()
	where := "Deployment " + d.Name
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	want := func(name, secret, key string) {
		if e, ref := envRef(c, name); e == nil || ref == nil || ref.Name != secret || ref.Key != key {
			t.Errorf("%s: %s must come from Secret %s key %s", where, name, secret, key)
		}
	}
	absent := func(name, why string) {
		if e, _ := envRef(c, name); e != nil {
			t.Errorf("%s: sets %s; %s", where, name, why)
		}
	}
	want("JWT_KEY", "ticketing-secrets", "JWT_KEY")
	if p.codes {
		want("TICKET_SIGNING_KEY", "ticketing-secrets", "TICKET_SIGNING_KEY")
	} else {
		absent("TICKET_SIGNING_KEY", "the part neither signs nor verifies entry codes: do not hand it the key")
	}
	if p.db {
		want("DATABASE_URL", "ticketing-database", p.name)
	} else {
		absent("DATABASE_URL", "the part has no database: do not hand it a role")
	}
	if p.events {
		if e, _ := envRef(c, "NATS_USER"); e == nil || e.Value != p.name {
			t.Errorf("%s: NATS_USER must be %s, its user in nats/auth.conf", where, p.name)
		}
		want("NATS_PASSWORD", "ticketing-nats", p.name)
		e, _ := envRef(c, "NATS_CA_FILE")
		if file := secretFile(spec, c, "nats-tls", "ca.crt"); e == nil || file == "" || e.Value != file {
			t.Errorf("%s: NATS_CA_FILE must be the file of Secret nats-tls key ca.crt it mounts (%q)", where, file)
		}
		if secretFile(spec, c, "nats-tls", "tls.key") != "" {
			t.Errorf("%s: mounts the NATS servers' private key; mount only ca.crt (items)", where)
		}
	} else {
		for _, n := range []string{"NATS_USER", "NATS_PASSWORD", "NATS_CA_FILE"} {
			absent(n, "the part does not use NATS")
		}
	}
}

// testCertFiles writes a CA and a certificate it signs, as the Secret
// nats-tls holds them, so that nats.conf's tls blocks load.
func testCertFiles(t *testing.T, dir string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, key2 := key(), key()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"}, DNSNames: []string{"nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key2.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key2)
	for name, b := range map[string]*pem.Block{
		"ca.crt": {Type: "CERTIFICATE", Bytes: caDER}, "tls.crt": {Type: "CERTIFICATE", Bytes: leafDER},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// parseNATSConf parses the NATS servers' configuration with the
// nats-server the tests embed, as a server of sts would: every file of the
// ConfigMap side by side, the certificate files where sts mounts nats-tls
// (test ones here), the passwords in its environment.
func parseNATSConf(t *testing.T, sts *appsv1.StatefulSet, cm *corev1.ConfigMap, key string) *natsserver.Options {
	t.Helper()
	dir := t.TempDir()
	spec := sts.Spec.Template.Spec
	c := spec.Containers[0]
	tlsDir := path.Dir(secretFile(spec, c, "nats-tls", "tls.crt"))
	if tlsDir == "." {
		t.Fatal("StatefulSet nats: mounts no Secret nats-tls (the servers' certificate)")
	}
	testCertFiles(t, dir)
	for name, data := range cm.Data {
		if name == key && !strings.Contains(data, tlsDir+"/tls.crt") {
			t.Errorf("%s: no tls block with %s/tls.crt, where the StatefulSet mounts nats-tls", key, tlsDir)
		}
		data = strings.ReplaceAll(data, tlsDir+"/", dir+"/")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("POD_NAME", "nats-0")
	for _, p := range codeParts(t) {
		if !p.events {
			continue
		}
		v := strings.ToUpper(p.name) + "_NATS_PASSWORD"
		if _, ref := envRef(c, v); ref == nil || ref.Name != "ticketing-nats" || ref.Key != p.name {
			t.Errorf("StatefulSet nats: %s must come from Secret ticketing-nats key %s (the part's NATS_PASSWORD)", v, p.name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			t.Setenv(e.Name, "validate-"+e.Name)
		}
	}
	opts, err := natsserver.ProcessConfigFile(filepath.Join(dir, key))
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	if opts.TLSConfig == nil {
		t.Error("nats.conf: clients are not on TLS")
	}
	if opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Error("nats.conf: routes must be on TLS with verify: true, so only a holder of the CA's certificate joins the cluster")
	}
	checkNATSUsers(t, "nats.conf", opts)
	return opts
}

// followSessions is what a part with an API needs to follow
// session.revoked with ordered consumers (natsbus.Follow), whose names are
// random: on SESSIONS only, where every consumer reads the same.
var followSessions = []string{
	"$JS.API.STREAM.INFO.SESSIONS",
	"$JS.API.STREAM.CREATE.SESSIONS",
	"$JS.API.STREAM.UPDATE.SESSIONS",
	"$JS.API.CONSUMER.CREATE.SESSIONS.*.session.revoked",
	"$JS.API.CONSUMER.MSG.NEXT.SESSIONS.*",
	"$JS.API.CONSUMER.DELETE.SESSIONS.*",
}

// ensureDeadLetters is what every part that uses events needs on
// DEADLETTERS: to make sure of the stream when it connects. Reading,
// deleting or replaying a dead letter is the operator's, never a part's.
var ensureDeadLetters = []string{
	"$JS.API.STREAM.INFO.DEADLETTERS",
	"$JS.API.STREAM.CREATE.DEADLETTERS",
	"$JS.API.STREAM.UPDATE.DEADLETTERS",
}

// checkNATSUsers: a user per part that uses events, with permissions, each
// reading only its own inbox; the parts with an API follow session
// revocations on SESSIONS, which only auth publishes.
func checkNATSUsers(t *testing.T, where string, opts *natsserver.Options) {
	t.Helper()
	if opts.NoAuthUser != "" || opts.Username != "" || len(opts.Nkeys) > 0 {
		t.Errorf("%s: only the per-part users of auth.conf may connect", where)
	}
	users := map[string]*natsserver.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
		perms := u.Permissions
		if perms == nil || perms.Publish == nil || perms.Subscribe == nil {
			t.Errorf("%s: user %s has no publish and subscribe permissions: it may do anything", where, u.Username)
			continue
		}
		for _, s := range perms.Subscribe.Allow {
			if s != "_INBOX."+u.Username+".>" {
				t.Errorf("%s: user %s may subscribe to %s; only its inbox _INBOX.%s.> (natsbus sets it from the user)", where, u.Username, s, u.Username)
			}
		}
		for _, s := range perms.Publish.Allow {
			if strings.HasPrefix(s, "session.") && (u.Username != "auth" || s != "session.revoked") {
				t.Errorf("%s: user %s may publish %s; only auth publishes session.revoked", where, u.Username, s)
			}
			if strings.Contains(s, ".SESSIONS") && !slices.Contains(followSessions, s) {
				t.Errorf("%s: user %s may publish %s; on SESSIONS only %v", where, u.Username, s, followSessions)
			}
			if strings.Contains(s, ".DEADLETTERS") && !slices.Contains(ensureDeadLetters, s) {
				t.Errorf("%s: user %s may publish %s; on DEADLETTERS only %v", where, u.Username, s, ensureDeadLetters)
			}
			// Dead letters: those of its own durables only, each by name
			// (natsbus stores them as deadletter.<durable>).
			if durable, ok := strings.CutPrefix(s, "deadletter."); ok || strings.HasPrefix(s, "deadletter") {
				if !strings.HasPrefix(durable, u.Username+"-") || strings.ContainsAny(durable, "*>.") ||
					!slices.ContainsFunc(perms.Publish.Allow, func(c string) bool {
						return strings.HasPrefix(c, "$JS.API.CONSUMER.CREATE.TICKETING."+durable+".")
					}) {
					t.Errorf("%s: user %s may publish %s: not the dead letters of a durable of its own (deadletter.%s-<subject>)", where, u.Username, s, u.Username)
				}
			}
			if durable, ok := strings.CutPrefix(s, "$JS.API.CONSUMER.CREATE.TICKETING."); ok {
				durable, _, _ = strings.Cut(durable, ".")
				if !slices.Contains(perms.Publish.Allow, "deadletter."+durable) {
					t.Errorf("%s: user %s may not publish deadletter.%s: what its consumer %s gives up on would be lost", where, u.Username, durable, durable)
				}
			}
			if s == ">" || strings.HasPrefix(s, "$JS.>") || strings.HasPrefix(s, "$JS.API.>") || strings.HasPrefix(s, "$JS.API.CONSUMER.>") || strings.HasPrefix(s, "$JS.ACK.>") {
				t.Errorf("%s: user %s may publish %s, which reaches other parts' consumers", where, u.Username, s)
			}
			// Consumers and acks: only the user's own durables
			// (natsbus.DurableName), each created on its own subject.
			for _, prefix := range []string{"$JS.API.CONSUMER.CREATE.TICKETING.", "$JS.API.CONSUMER.INFO.TICKETING.", "$JS.API.CONSUMER.MSG.NEXT.TICKETING.", "$JS.ACK.TICKETING."} {
				rest, ok := strings.CutPrefix(s, prefix)
				if !ok {
					continue
				}
				durable, filter, _ := strings.Cut(rest, ".")
				own, ok := strings.CutPrefix(durable, u.Username+"-")
				switch {
				case !ok || strings.ContainsAny(durable, "*>"):
					t.Errorf("%s: user %s may publish %s: not a durable of its own (%s-<subject>)", where, u.Username, s, u.Username)
				case prefix == "$JS.API.CONSUMER.CREATE.TICKETING." && strings.ReplaceAll(filter, ".", "-") != own:
					t.Errorf("%s: user %s may create %s on %q, not on its subject", where, u.Username, durable, filter)
				}
			}
		}
	}
	for _, p := range codeParts(t) {
		u := users[p.name]
		if p.events && u == nil {
			t.Errorf("%s: part %s uses events but has no user", where, p.name)
		}
		if u == nil || u.Permissions == nil || u.Permissions.Publish == nil {
			continue
		}
		for _, s := range ensureDeadLetters {
			if !slices.Contains(u.Permissions.Publish.Allow, s) && p.events {
				t.Errorf("%s: user %s may not publish %s: every part that uses events makes sure of DEADLETTERS", where, p.name, s)
			}
		}
		for _, s := range followSessions {
			if has := slices.Contains(u.Permissions.Publish.Allow, s); has != p.api {
				t.Errorf("%s: user %s may publish %s: %v, want %v (only a part with an API follows session.revoked)", where, p.name, s, has, p.api)
			}
		}
	}
}

func checkRoles(t *testing.T, m *manifests, sts *appsv1.StatefulSet) {
	t.Helper()
	spec := sts.Spec.Template.Spec
	c := spec.Containers[0]
	var initCM string
	for _, v := range spec.Volumes {
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name && v.ConfigMap != nil && vm.MountPath == "/docker-entrypoint-initdb.d" {
				initCM = v.ConfigMap.Name
			}
		}
	}
	cm := m.configMaps[initCM]
	if cm == nil || cm.Data["roles.sql"] == "" {
		t.Fatal("StatefulSet postgres: mount the ConfigMap of postgres/roles.sql at /docker-entrypoint-initdb.d")
	}
	checkRolesSQL(t, cm.Data["roles.sql"])
	if _, ref := envRef(c, "POSTGRES_PASSWORD"); ref == nil || ref.Name != "postgres-credentials" {
		t.Error("StatefulSet postgres: POSTGRES_PASSWORD must come from Secret postgres-credentials")
	}
	for _, p := range dbParts {
		v := strings.ToUpper(p) + "_DB_PASSWORD"
		if _, ref := envRef(c, v); ref == nil || ref.Name != "postgres-credentials" || ref.Key != p {
			t.Errorf("StatefulSet postgres: %s must come from Secret postgres-credentials key %s", v, p)
		}
	}
}

// checkRolesSQL: a role per part with a database, owning its schema, its
// password from the variable the deploy files set.
func checkRolesSQL(t *testing.T, sql string) {
	t.Helper()
	for _, p := range dbParts {
		for _, want := range []string{
			fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s;", p, p),
			fmt.Sprintf("\\getenv %s_password %s_DB_PASSWORD", p, strings.ToUpper(p)),
			fmt.Sprintf("ALTER ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE", p),
		} {
			if !strings.Contains(sql, want) {
				t.Errorf("postgres/roles.sql: no %q", want)
			}
		}
	}
}

// TestOperatorSecretsDocumented: deploy/README.md tells how to create every
// Secret the manifests need, with every key.
func TestOperatorSecretsDocumented(t *testing.T) {
	readme := string(readFile(t, filepath.Join(repoRoot(t), "deploy", "README.md")))
	for name, keys := range operatorSecrets {
		if name == "nats-tls" {
			if !strings.Contains(readme, "nats-tls") {
				t.Error("deploy/README.md does not say how to create the Secret nats-tls")
			}
			continue
		}
		if !strings.Contains(readme, "create secret generic "+name) {
			t.Errorf("deploy/README.md has no `kubectl create secret generic %s`", name)
		}
		for _, k := range keys {
			if !strings.Contains(readme, "--from-literal="+k+"=") {
				t.Errorf("deploy/README.md: no --from-literal=%s= (Secret %s)", k, name)
			}
		}
	}
}

// workloadPod is a Deployment's or StatefulSet's pod template by name.
func workloadPods(m *manifests) map[string]*corev1.PodTemplateSpec {
	pods := map[string]*corev1.PodTemplateSpec{}
	for n, d := range m.deployments {
		pods[n] = &d.Spec.Template
	}
	for n, s := range m.statefulSets {
		pods[n] = &s.Spec.Template
	}
	return pods
}

func selects(t *testing.T, sel *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return s.Matches(labels.Set(l))
}

// portMatches resolves a policy port (a number or a named container port
// of the destination) against port.
func portMatches(ports []networkingv1.NetworkPolicyPort, dst *corev1.PodTemplateSpec, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if p.Port == nil || (p.Port.Type == intstr.Int && p.Port.IntVal == port) ||
			(p.Port.Type == intstr.String && containerPort(dst, *p.Port) == port) {
			return true
		}
	}
	return false
}

// inNamespace reports whether a peer names pods of this namespace that
// match l. A namespaceSelector or ipBlock peer is outside the namespace.
func inNamespace(t *testing.T, peer networkingv1.NetworkPolicyPeer, l map[string]string) bool {
	return peer.PodSelector != nil && peer.NamespaceSelector == nil && peer.IPBlock == nil && selects(t, peer.PodSelector, l)
}

// allowed evaluates the NetworkPolicies for a TCP connection from the pods
// of workload src to port of workload dst, both in the namespace: the
// egress of src and the ingress of dst must both allow it.
func allowed(t *testing.T, m *manifests, src, dst *corev1.PodTemplateSpec, port int32) bool {
	t.Helper()
	egress, ingress := true, true // no policy selecting a pod: not isolated
	var egressIsolated, ingressIsolated bool
	var egressOK, ingressOK bool
	for _, np := range m.policies {
		types := np.Spec.PolicyTypes
		if selects(t, &np.Spec.PodSelector, src.Labels) && slices.Contains(types, networkingv1.PolicyTypeEgress) {
			egressIsolated = true
			for _, r := range np.Spec.Egress {
				if !portMatches(r.Ports, dst, port) {
					continue
				}
				if len(r.To) == 0 || slices.ContainsFunc(r.To, func(p networkingv1.NetworkPolicyPeer) bool { return inNamespace(t, p, dst.Labels) }) {
					egressOK = true
				}
			}
		}
		if selects(t, &np.Spec.PodSelector, dst.Labels) && slices.Contains(types, networkingv1.PolicyTypeIngress) {
			ingressIsolated = true
			for _, r := range np.Spec.Ingress {
				if !portMatches(r.Ports, dst, port) {
					continue
				}
				if len(r.From) == 0 || slices.ContainsFunc(r.From, func(p networkingv1.NetworkPolicyPeer) bool { return inNamespace(t, p, src.Labels) }) {
					ingressOK = true
				}
			}
		}
	}
	if egressIsolated {
		egress = egressOK
	}
	if ingressIsolated {
		ingress = ingressOK
	}
	return egress && ingress
}

// checkNetworkPolicies: everything is denied unless needed, and what is
// needed is allowed. Needed: each part that uses events to NATS, each part
// with a database to PostgreSQL, the gateway to every part its URL
// variables name, web to the gateway (GATEWAY_URL), the NATS servers to
// each other's routes; from outside the namespace only the Ingress
// controller to the gateway and Prometheus to the metrics ports; DNS.
func checkNetworkPolicies(t *testing.T, m *manifests, parts []partInfo) {
	t.Helper()
	var denyAll, dns bool
	for _, np := range m.policies {
		all := len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0
		types := np.Spec.PolicyTypes
		if all && slices.Contains(types, networkingv1.PolicyTypeIngress) && slices.Contains(types, networkingv1.PolicyTypeEgress) &&
			len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 {
			denyAll = true
		}
		if all {
			for _, r := range np.Spec.Egress {
				for _, p := range r.Ports {
					if p.Port != nil && p.Port.IntValue() == 53 && p.Protocol != nil && *p.Protocol == corev1.ProtocolUDP {
						dns = true
					}
				}
			}
		}
	}
	if !denyAll {
		t.Error("NetworkPolicy: no default deny (empty podSelector, Ingress and Egress, no rules)")
	}
	if !dns {
		t.Error("NetworkPolicy: no DNS egress (UDP 53) for every pod")
	}

	pods := workloadPods(m)
	type conn struct {
		src, dst string
		port     int32
	}
	need := map[conn]bool{}
	natsPort := containerPort(pods["nats"], intstr.FromString("client"))
	pgPort := containerPort(pods["postgres"], intstr.FromString("postgres"))
	routePort := containerPort(pods["nats"], intstr.FromString("cluster"))
	need[conn{"nats", "nats", routePort}] = true
	for _, p := range parts {
		if m.policies[p.name] == nil {
			t.Errorf("part %s: no NetworkPolicy named after it", p.name)
		}
		if p.events {
			need[conn{p.name, "nats", natsPort}] = true
		}
		if p.db {
			need[conn{p.name, "postgres", pgPort}] = true
		}
		d := m.deployments[p.name]
		if d == nil {
			continue
		}
		env := containerEnv(m, d.Spec.Template.Spec.Containers[0])
		for v, target := range partURLs {
			if env[v] != "" {
				need[conn{p.name, target, servePort}] = true
			}
		}
	}
	for _, name := range []string{"nats", "postgres"} {
		if m.policies[name] == nil {
			t.Errorf("%s: no NetworkPolicy named after it", name)
		}
	}
	for src, sp := range pods {
		for dst, dp := range pods {
			for _, c := range dp.Spec.Containers {
				for _, cp := range c.Ports {
					got, want := allowed(t, m, sp, dp, cp.ContainerPort), need[conn{src, dst, cp.ContainerPort}]
					switch {
					case got && !want:
						t.Errorf("NetworkPolicy: %s may reach %s:%d (%s), which it does not need", src, dst, cp.ContainerPort, cp.Name)
					case want && !got:
						t.Errorf("NetworkPolicy: %s cannot reach %s:%d (%s), which it needs", src, dst, cp.ContainerPort, cp.Name)
					}
				}
			}
		}
	}

	// From outside the namespace: the Ingress controller to the gateway's
	// http port, a scraper to the metrics ports, nothing else.
	for _, np := range m.policies {
		for _, r := range np.Spec.Ingress {
			outside := slices.ContainsFunc(r.From, func(p networkingv1.NetworkPolicyPeer) bool {
				return p.NamespaceSelector != nil || p.IPBlock != nil
			})
			if !outside {
				continue
			}
			for name, pod := range pods {
				if !selects(t, &np.Spec.PodSelector, pod.Labels) {
					continue
				}
				for _, c := range pod.Spec.Containers {
					for _, cp := range c.Ports {
						if !portMatches(r.Ports, pod, cp.ContainerPort) {
							continue
						}
						if !(name == "gateway" && cp.Name == "http") && cp.Name != "metrics" {
							t.Errorf("NetworkPolicy %s: lets pods outside the namespace reach %s:%d (%s)", np.Name, name, cp.ContainerPort, cp.Name)
						}
					}
				}
			}
		}
	}
	gw := pods["gateway"]
	var fromIngress bool
	for _, np := range m.policies {
		if !selects(t, &np.Spec.PodSelector, gw.Labels) {
			continue
		}
		for _, r := range np.Spec.Ingress {
			if portMatches(r.Ports, gw, servePort) && slices.ContainsFunc(r.From, func(p networkingv1.NetworkPolicyPeer) bool { return p.NamespaceSelector != nil }) {
				fromIngress = true
			}
		}
	}
	if !fromIngress {
		t.Error("NetworkPolicy: the Ingress controller's namespace cannot reach the gateway")
	}
}

// TestNetworkPolicyEvaluator: the evaluator the checks above rely on
// denies and allows as Kubernetes does for the cases the manifests use.
func TestNetworkPolicyEvaluator(t *testing.T) {
	pod := func(name string, port int32) *corev1.PodTemplateSpec {
		p := &corev1.PodTemplateSpec{}
		p.Labels = map[string]string{"app.kubernetes.io/name": name}
		p.Spec.Containers = []corev1.Container{{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}}
		return p
	}
	a, b := pod("a", 8080), pod("b", 8080)
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(8080)
	named := intstr.FromString("http")
	only := func(n string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": n}}
	}
	deny := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress"}}}
	aOut := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PodSelector: *only("a"), PolicyTypes: []networkingv1.PolicyType{"Egress"},
		Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: only("b")}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}}}}}
	bIn := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PodSelector: *only("b"), PolicyTypes: []networkingv1.PolicyType{"Ingress"},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: only("a")}}, Ports: []networkingv1.NetworkPolicyPort{{Port: &named}}}}}}
	bInOtherNS := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PodSelector: *only("b"), PolicyTypes: []networkingv1.PolicyType{"Ingress"},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: only("a"), NamespaceSelector: &metav1.LabelSelector{}}}}}}}
	for _, tc := range []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		want     bool
	}{
		{"no policy", nil, true},
		{"deny all", []*networkingv1.NetworkPolicy{deny}, false},
		{"egress only", []*networkingv1.NetworkPolicy{deny, aOut}, false},
		{"ingress only", []*networkingv1.NetworkPolicy{deny, bIn}, false},
		{"both", []*networkingv1.NetworkPolicy{deny, aOut, bIn}, true},
		{"another namespace's a", []*networkingv1.NetworkPolicy{deny, aOut, bInOtherNS}, false},
	} {
		m := &manifests{policies: map[string]*networkingv1.NetworkPolicy{}}
		for i, p := range tc.policies {
			m.policies[fmt.Sprint(i)] = p
		}
		if got := allowed(t, m, a, b, 8080); got != tc.want {
			t.Errorf("%s: a -> b:8080 allowed = %v, want %v", tc.name, got, tc.want)
		}
	}
	m := &manifests{policies: map[string]*networkingv1.NetworkPolicy{"d": deny, "o": aOut, "i": bIn}}
	if allowed(t, m, a, b, 9090) {
		t.Error("a -> b:9090 allowed by rules for 8080")
	}
	if allowed(t, m, b, a, 8080) {
		t.Error("b -> a allowed by rules for a -> b")
	}
}
