package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const namespace = "ticketing"

// decoder decodes the kinds deploy/k8s may hold, strictly: an unknown or
// duplicated field is an error, and so is a kind not registered here.
func decoder() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}

// decodeDocs decodes every document of one YAML stream.
func decodeDocs(dec runtime.Decoder, data []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			// The strict decoder returns the object and the error: never
			// accept it.
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		objs = append(objs, obj)
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

// The decoder must actually refuse what the manifests are checked for.
func TestDecoderIsStrict(t *testing.T) {
	dec := decoder()
	for name, doc := range map[string]string{
		"unknown field":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatta:\n  a: b\n",
		"nested unknown": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n",
		"duplicate key":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
		"unknown kind":   "apiVersion: v1\nkind: ConfigMapp\nmetadata:\n  name: x\n",
		"unknown group":  "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: x\n",
		"no kind":        "apiVersion: v1\nmetadata:\n  name: x\n",
		"bad quantity":   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: a\n    resources:\n      limits:\n        memory: lots\n",
	} {
		if _, err := decodeDocs(dec, []byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	objs, err := decodeDocs(dec, []byte("# only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"))
	if err != nil || len(objs) != 1 {
		t.Errorf("a valid document: %v, %d objects", err, len(objs))
	}
}

// manifests is everything in deploy/k8s, by kind.
type manifests struct {
	files        map[string][]runtime.Object
	namespaces   []*corev1.Namespace
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	services     map[string]*corev1.Service
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	pdbs         map[string]*policyv1.PodDisruptionBudget
	ingresses    map[string]*networkingv1.Ingress
	policies     map[string]*networkingv1.NetworkPolicy
}

// kustomization is the part of kustomize's Kustomization these files use;
// decoded strictly too, so a misspelt field fails.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
		IncludeTemplates bool              `json:"includeTemplates"`
	} `json:"labels"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
	ConfigMapGenerator []struct {
		Name  string   `json:"name"`
		Files []string `json:"files"`
	} `json:"configMapGenerator"`
}

func k8sDir(t *testing.T) string { return filepath.Join(repoRoot(t), "deploy", "k8s") }

func loadKustomization(t *testing.T) kustomization {
	t.Helper()
	var k kustomization
	if err := yaml.UnmarshalStrict(readFile(t, filepath.Join(k8sDir(t), "kustomization.yaml")), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		files:        map[string][]runtime.Object{},
		configMaps:   map[string]*corev1.ConfigMap{},
		secrets:      map[string]*corev1.Secret{},
		services:     map[string]*corev1.Service{},
		deployments:  map[string]*appsv1.Deployment{},
		statefulSets: map[string]*appsv1.StatefulSet{},
		pdbs:         map[string]*policyv1.PodDisruptionBudget{},
		ingresses:    map[string]*networkingv1.Ingress{},
		policies:     map[string]*networkingv1.NetworkPolicy{},
	}
	dec := decoder()
	paths, err := filepath.Glob(filepath.Join(k8sDir(t), "*"))
	if err != nil {
		t.Fatal(err)
	}
	add := func(file string, seen map[string]bool, kind, name string) {
		if seen[name] {
			t.Errorf("%s: a second %s named %q", file, kind, name)
		}
		seen[name] = true
	}
	seen := map[string]map[string]bool{}
	for _, path := range paths {
		file := filepath.Base(path)
		if file == "kustomization.yaml" {
			continue
		}
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			continue // files of the configMapGenerator, added below
		}
		if filepath.Ext(file) != ".yaml" {
			t.Errorf("%s: deploy/k8s holds only .yaml manifests", file)
			continue
		}
		objs, err := decodeDocs(dec, readFile(t, path))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if len(objs) == 0 {
			t.Errorf("%s: no manifest", file)
		}
		m.files[file] = objs
		for _, obj := range objs {
			meta := obj.(metav1.Object)
			kind := fmt.Sprintf("%T", obj)
			if seen[kind] == nil {
				seen[kind] = map[string]bool{}
			}
			add(file, seen[kind], kind, meta.GetName())
			if _, isNS := obj.(*corev1.Namespace); !isNS && meta.GetNamespace() != namespace {
				t.Errorf("%s: %s %q is in namespace %q, want %q", file, kind, meta.GetName(), meta.GetNamespace(), namespace)
			}
			switch o := obj.(type) {
			case *corev1.Namespace:
				m.namespaces = append(m.namespaces, o)
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *corev1.Secret:
				m.secrets[o.Name] = o
			case *corev1.Service:
				m.services[o.Name] = o
			case *appsv1.Deployment:
				m.deployments[o.Name] = o
			case *appsv1.StatefulSet:
				m.statefulSets[o.Name] = o
			case *policyv1.PodDisruptionBudget:
				m.pdbs[o.Name] = o
			case *networkingv1.Ingress:
				m.ingresses[o.Name] = o
			case *networkingv1.NetworkPolicy:
				m.policies[o.Name] = o
			default:
				t.Errorf("%s: %s %q: no check knows this kind; add one to deploy/validate", file, kind, meta.GetName())
			}
		}
	}
	// The ConfigMaps kustomize generates, under the names the manifests use
	// (kustomize adds a hash and rewrites the references).
	for _, g := range loadKustomization(t).ConfigMapGenerator {
		if m.configMaps[g.Name] != nil {
			t.Errorf("kustomization.yaml: configMapGenerator %s: a ConfigMap of that name is in the manifests too", g.Name)
		}
		cm := &corev1.ConfigMap{Data: map[string]string{}}
		cm.Name, cm.Namespace = g.Name, namespace
		for _, f := range g.Files {
			cm.Data[filepath.Base(f)] = string(readFile(t, filepath.Join(k8sDir(t), f)))
		}
		m.configMaps[g.Name] = cm
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func TestKustomizationListsEveryFile(t *testing.T) {
	k := loadKustomization(t)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespace {
		t.Errorf("kustomization.yaml: namespace %q, want %q", k.Namespace, namespace)
	}
	for _, l := range k.Labels {
		if l.IncludeSelectors {
			t.Error("kustomization.yaml: labels with includeSelectors change the selectors of live objects, which Kubernetes refuses")
		}
	}
	// Files in subdirectories are the configMapGenerator's, each listed.
	var generated []string
	for _, g := range k.ConfigMapGenerator {
		generated = append(generated, g.Files...)
	}
	filepath.WalkDir(k8sDir(t), func(path string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(k8sDir(t), path)
		if err == nil && !d.IsDir() && strings.Contains(rel, string(filepath.Separator)) && !slices.Contains(generated, filepath.ToSlash(rel)) {
			t.Errorf("kustomization.yaml: no configMapGenerator lists %s", rel)
		}
		return nil
	})
	for _, f := range generated {
		if _, err := os.Stat(filepath.Join(k8sDir(t), f)); err != nil {
			t.Errorf("kustomization.yaml: configMapGenerator file %s: %v", f, err)
		}
	}
	paths, _ := filepath.Glob(filepath.Join(k8sDir(t), "*.yaml"))
	var files []string
	for _, p := range paths {
		if f := filepath.Base(p); f != "kustomization.yaml" {
			files = append(files, f)
		}
	}
	for _, f := range files {
		if !slices.Contains(k.Resources, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
	for i, r := range k.Resources {
		if !slices.Contains(files, r) {
			t.Errorf("kustomization.yaml lists %s, which is not a file in deploy/k8s", r)
		}
		if slices.Contains(k.Resources[:i], r) {
			t.Errorf("kustomization.yaml lists %s twice", r)
		}
	}
	repo, _, _ := strings.Cut(ticketingImage, ":")
	var found bool
	for _, img := range k.Images {
		found = found || img.Name == repo
	}
	if !found {
		t.Errorf("kustomization.yaml: no images entry for %q, the image the parts run", repo)
	}
}

func TestManifests(t *testing.T) {
	m := loadManifests(t)
	parts := codeParts(t)

	if len(m.namespaces) != 1 || m.namespaces[0].Name != namespace {
		t.Errorf("want one Namespace %q", namespace)
	} else if m.namespaces[0].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("Namespace %s: enforce the restricted Pod Security Standard", namespace)
	}

	// Every workload's pods, for selectors.
	type workload struct {
		kind, name string
		replicas   int32
		pod        *corev1.PodTemplateSpec
		claims     []corev1.PersistentVolumeClaim
	}
	var workloads []workload
	for _, d := range m.deployments {
		workloads = append(workloads, workload{"Deployment", d.Name, ptrOr(d.Spec.Replicas, 1), &d.Spec.Template, nil})
		checkSelector(t, "Deployment "+d.Name, d.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, s := range m.statefulSets {
		workloads = append(workloads, workload{"StatefulSet", s.Name, ptrOr(s.Spec.Replicas, 1), &s.Spec.Template, s.Spec.VolumeClaimTemplates})
		checkSelector(t, "StatefulSet "+s.Name, s.Spec.Selector, s.Spec.Template.Labels)
		if svc := m.services[s.Spec.ServiceName]; svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("StatefulSet %s: serviceName %q is not a headless Service here", s.Name, s.Spec.ServiceName)
		}
		if len(s.Spec.VolumeClaimTemplates) == 0 {
			t.Errorf("StatefulSet %s: no volumeClaimTemplates: its data would not survive the pod", s.Name)
		}
	}
	selects := func(sel map[string]string, w workload) bool {
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if w.pod.Labels[k] != v {
				return false
			}
		}
		return true
	}
	selected := func(where string, sel map[string]string) []workload {
		var ws []workload
		for _, w := range workloads {
			if selects(sel, w) {
				ws = append(ws, w)
			}
		}
		if len(ws) != 1 {
			t.Errorf("%s: selector %v matches %d workloads, want 1", where, sel, len(ws))
		}
		return ws
	}

	// Pods: the restricted profile, resources, references.
	for _, w := range workloads {
		where := w.kind + " " + w.name
		checkPod(t, where, w.pod, w.claims, m)
	}

	// Services reach a workload's named port.
	for _, svc := range m.services {
		for _, w := range selected("Service "+svc.Name, svc.Spec.Selector) {
			for _, p := range svc.Spec.Ports {
				if containerPort(w.pod, p.TargetPort) == 0 {
					t.Errorf("Service %s: targetPort %s is not a port of %s %s", svc.Name, p.TargetPort.String(), w.kind, w.name)
				}
			}
		}
	}
	// PodDisruptionBudgets select one workload and leave it running.
	for _, pdb := range m.pdbs {
		if pdb.Spec.Selector == nil {
			t.Errorf("PodDisruptionBudget %s: no selector", pdb.Name)
			continue
		}
		for _, w := range selected("PodDisruptionBudget "+pdb.Name, pdb.Spec.Selector.MatchLabels) {
			if mu := pdb.Spec.MaxUnavailable; mu != nil && w.replicas > 1 && mu.IntValue() >= int(w.replicas) {
				t.Errorf("PodDisruptionBudget %s lets every replica of %s go", pdb.Name, w.name)
			}
		}
	}
	for _, name := range []string{"nats", "postgres"} {
		if m.pdbs[name] == nil {
			t.Errorf("no PodDisruptionBudget for the stateful part %s", name)
		}
	}

	// The parts: one Deployment and Service each, running the image.
	shared := m.configMaps["ticketing-config"]
	if shared == nil {
		t.Fatal("no ConfigMap ticketing-config")
	}
	for _, p := range parts {
		d := m.deployments[p.name]
		if d == nil {
			t.Errorf("part %s: no Deployment named after it", p.name)
			continue
		}
		checkPart(t, m, p, d)
	}
	for name, d := range m.deployments {
		c := d.Spec.Template.Spec.Containers[0]
		if len(c.Args) != 2 || c.Args[0] != "serve" || !slices.Contains(partNames(parts), c.Args[1]) || c.Args[1] != name {
			t.Errorf("Deployment %s: args %q, want [serve %s] with a part of %v", name, c.Args, name, partNames(parts))
		}
	}

	checkNATS(t, m)
	checkPostgres(t, m)
	checkNetworkPolicies(t, m, parts)
	// No Secret ships here: a placeholder would run unchanged. The
	// operator creates them (operatorSecrets), and a pod that needs a
	// missing one does not start.
	for name := range m.secrets {
		t.Errorf("Secret %s is in deploy/k8s; the operator creates Secrets (deploy/README.md)", name)
	}

	// The Ingress sends everything to the gateway, over TLS.
	if len(m.ingresses) != 1 {
		t.Fatalf("want one Ingress, got %d", len(m.ingresses))
	}
	for _, ing := range m.ingresses {
		if len(ing.Spec.TLS) == 0 {
			t.Errorf("Ingress %s: no TLS, but COOKIE_SECURE=true needs HTTPS", ing.Name)
		}
		var paths int
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				paths++
				b := p.Backend.Service
				if b == nil || b.Name != "gateway" {
					t.Errorf("Ingress %s: path %s goes to %v, not the gateway", ing.Name, p.Path, p.Backend)
					continue
				}
				if servicePort(m.services["gateway"], b.Port.Name, b.Port.Number) == 0 {
					t.Errorf("Ingress %s: the gateway Service has no port %v", ing.Name, b.Port)
				}
			}
		}
		if paths == 0 {
			t.Errorf("Ingress %s routes nothing", ing.Name)
		}
	}
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func checkSelector(t *testing.T, where string, sel *metav1.LabelSelector, labels map[string]string) {
	t.Helper()
	if sel == nil || len(sel.MatchLabels) == 0 {
		t.Errorf("%s: no selector matchLabels", where)
		return
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			t.Errorf("%s: selector %s=%s does not match its pod template's labels %v", where, k, v, labels)
		}
	}
}

// containerPort resolves a Service's targetPort in a pod: a name or number.
func containerPort(pod *corev1.PodTemplateSpec, target intstr.IntOrString) int32 {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if (target.Type == intstr.String && p.Name == target.StrVal) ||
				(target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// servicePort finds a Service port by name or number.
func servicePort(svc *corev1.Service, name string, number int32) int32 {
	if svc == nil {
		return 0
	}
	for _, p := range svc.Spec.Ports {
		if (name != "" && p.Name == name) || (number != 0 && p.Port == number) {
			return p.Port
		}
	}
	return 0
}

// checkPod holds every pod to the restricted Pod Security Standard and to
// what a small shared cluster needs: requests and limits, references that
// resolve.
func checkPod(t *testing.T, where string, pod *corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim, m *manifests) {
	t.Helper()
	spec := pod.Spec
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot must be true", where)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext.seccompProfile must be RuntimeDefault", where)
	}
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		t.Errorf("%s: runs as root", where)
	}
	if spec.TerminationGracePeriodSeconds == nil {
		t.Errorf("%s: set terminationGracePeriodSeconds for its graceful shutdown", where)
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
			t.Errorf("%s: volume %s: no ConfigMap %s", where, v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil {
			checkSecretVolume(t, where, v)
		}
	}
	for _, c := range claims {
		volumes[c.Name] = true
		if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			t.Errorf("%s: claim %s requests no storage", where, c.Name)
		}
	}
	if len(spec.InitContainers) > 0 {
		t.Errorf("%s: init containers are not checked here; add them to deploy/validate", where)
	}
	for _, c := range spec.Containers {
		cw := where + " container " + c.Name
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", cw)
		default:
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation must be false", cw)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem must be true", cw)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: capabilities must drop ALL and add none", cw)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", cw)
			}
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[r]
			lim, okLim := c.Resources.Limits[r]
			if !okReq || !okLim {
				t.Errorf("%s: set both a request and a limit of %s", cw, r)
			} else if req.Cmp(lim) > 0 {
				t.Errorf("%s: %s request %s above its limit %s", cw, r, req.String(), lim.String())
			}
		}
		// A small cluster: no part asks for more than one core or 1Gi.
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok && q.Cmp(resource.MustParse("1Gi")) > 0 {
			t.Errorf("%s: requests %s of memory, too much for a small cluster", cw, q.String())
		}
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok && q.Cmp(resource.MustParse("1")) > 0 {
			t.Errorf("%s: requests %s CPU, too much for a small cluster", cw, q.String())
		}
		for _, vm := range c.VolumeMounts {
			if !volumes[vm.Name] {
				t.Errorf("%s: mounts %s, which is no volume or claim", cw, vm.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil && m.configMaps[ef.ConfigMapRef.Name] == nil {
				t.Errorf("%s: envFrom: no ConfigMap %s", cw, ef.ConfigMapRef.Name)
			}
			if ef.SecretRef != nil {
				t.Errorf("%s: envFrom Secret %s: name each key (env secretKeyRef), so a missing one stops the pod", cw, ef.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				checkSecretRef(t, cw+" env "+e.Name, r)
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				if cm := m.configMaps[r.Name]; cm == nil || !hasKey(cm.Data, nil, r.Key) {
					t.Errorf("%s: env %s: no key %s in ConfigMap %s", cw, e.Name, r.Key, r.Name)
				}
			}
		}
	}
}

func hasKey(a map[string]string, b map[string][]byte, key string) bool {
	_, inA := a[key]
	_, inB := b[key]
	return inA || inB
}

// containerEnv resolves a container's environment as the kubelet would:
// envFrom first, then env (which wins); secrets from their stringData.
func containerEnv(m *manifests, c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			if cm := m.configMaps[ef.ConfigMapRef.Name]; cm != nil {
				for k, v := range cm.Data {
					env[ef.Prefix+k] = v
				}
			}
		}
		if ef.SecretRef != nil {
			if s := m.secrets[ef.SecretRef.Name]; s != nil {
				for k, v := range s.StringData {
					env[ef.Prefix+k] = v
				}
				for k, v := range s.Data {
					env[ef.Prefix+k] = string(v)
				}
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			// The operator's Secrets hold the values (operatorSecrets).
			env[e.Name] = "(secret " + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key + ")"
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if cm := m.configMaps[e.ValueFrom.ConfigMapKeyRef.Name]; cm != nil {
				env[e.Name] = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			}
		default:
			env[e.Name] = "(from the downward API)"
		}
	}
	return env
}

// addrPort is the port of a listen address such as ":8080".
func addrPort(t *testing.T, where, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	n, err2 := strconv.Atoi(port)
	if err != nil || err2 != nil {
		t.Errorf("%s: TICKETING_ADDR %q is no host:port", where, addr)
	}
	return n
}

// partURLs are the variables that name another part's address.
var partURLs = map[string]string{
	"AUTH_URL": "auth", "TICKETS_URL": "tickets", "ORDERS_URL": "orders",
	"PAYMENTS_URL": "payments", "EVENTS_URL": "events", "WEB_URL": "web", "GATEWAY_URL": "gateway",
}

func checkPart(t *testing.T, m *manifests, p partInfo, d *appsv1.Deployment) {
	t.Helper()
	where := "Deployment " + d.Name
	if ptrOr(d.Spec.Replicas, 1) < 2 {
		t.Errorf("%s: %d replica(s); want 2 or more, so a rollout or a lost node leaves one", where, ptrOr(d.Spec.Replicas, 1))
	}
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: want one container", where)
	}
	c := spec.Containers[0]
	if c.Image != ticketingImage {
		t.Errorf("%s: image %q, want %q (kustomization.yaml's images entry renames it)", where, c.Image, ticketingImage)
	}
	if len(c.Command) > 0 {
		t.Errorf("%s: command %q replaces the image's ENTRYPOINT /ticketing; use args", where, c.Command)
	}
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Errorf("%s: enableServiceLinks must be false: its variables are no configuration README.md lists", where)
	}

	env := containerEnv(m, c)
	var names []string
	for n := range env {
		names = append(names, n)
	}
	checkEnvNames(t, where, names)
	checkPartSecrets(t, m, p, d)
	if p.events && env["NATS_URL"] == "" {
		t.Errorf("%s: the part uses events but has no NATS_URL", where)
	}
	if _, ok := env["STRIPE_SECRET_KEY"]; ok && p.name != "payments" {
		t.Errorf("%s: only payments needs STRIPE_SECRET_KEY", where)
	}
	if env["COOKIE_SECURE"] != "true" {
		t.Errorf("%s: COOKIE_SECURE=%q; TLS ends at the Ingress, so it must be true", where, env["COOKIE_SECURE"])
	}
	if v := env["TRUSTED_PROXIES"]; v != "" {
		for _, s := range strings.Split(v, ",") {
			if _, err := netip.ParsePrefix(strings.TrimSpace(s)); err != nil {
				t.Errorf("%s: TRUSTED_PROXIES: %v", where, err)
			}
		}
	}
	for name, target := range partURLs {
		v, ok := env[name]
		if !ok {
			continue
		}
		u, err := url.Parse(v)
		port, _ := strconv.Atoi(u.Port())
		if err != nil || u.Scheme != "http" || u.Hostname() != target || servicePort(m.services[target], "", int32(port)) == 0 {
			t.Errorf("%s: %s=%q is not http://%s:<a port of its Service>", where, name, v, target)
		}
	}
	if p.name == "gateway" {
		for name, target := range partURLs {
			if _, ok := env[name]; !ok && name != "GATEWAY_URL" {
				t.Errorf("%s: set %s (where %s is)", where, name, target)
			}
		}
	}
	if p.name == "web" && env["GATEWAY_URL"] == "" {
		t.Errorf("%s: set GATEWAY_URL", where)
	}

	// The port TICKETING_ADDR listens on, named http (probes use it by
	// name), and, when METRICS_ADDR is set, its port named metrics: the
	// pods are scraped there (prometheus.io annotations) and no Service
	// exposes it, so the Ingress never shows /metrics.
	port := servePort
	if a, ok := env["TICKETING_ADDR"]; ok {
		port = addrPort(t, where, a)
	}
	wantPorts := []string{fmt.Sprintf("http:%d", port)}
	if a, ok := env["METRICS_ADDR"]; ok {
		mp := addrPort(t, where, a)
		wantPorts = append(wantPorts, fmt.Sprintf("metrics:%d", mp))
		ann := d.Spec.Template.Annotations
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(mp) || ann["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: pod annotations %v do not point a scraper at /metrics on %d (METRICS_ADDR)", where, ann, mp)
		}
		if svc := m.services[p.name]; svc != nil {
			for _, sp := range svc.Spec.Ports {
				if sp.Port == int32(mp) || sp.TargetPort.String() == "metrics" || sp.TargetPort.IntValue() == mp {
					t.Errorf("%s: Service %s exposes the metrics port %d", where, p.name, mp)
				}
			}
		}
	}
	var gotPorts []string
	for _, cp := range c.Ports {
		gotPorts = append(gotPorts, fmt.Sprintf("%s:%d", cp.Name, cp.ContainerPort))
	}
	if !slices.Equal(gotPorts, wantPorts) {
		t.Errorf("%s: container ports %v, want %v (TICKETING_ADDR, METRICS_ADDR)", where, gotPorts, wantPorts)
	}
	probe := func(kind string, pr *corev1.Probe, path string) {
		switch {
		case pr == nil:
			t.Errorf("%s: no %s probe", where, kind)
		case pr.HTTPGet == nil:
			t.Errorf("%s: %s probe is not an HTTP GET", where, kind)
		case pr.HTTPGet.Path != path || pr.HTTPGet.Port.String() != "http":
			t.Errorf("%s: %s probe GETs %s on %s, want %s on http", where, kind, pr.HTTPGet.Path, pr.HTTPGet.Port.String(), path)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	if c.StartupProbe != nil {
		probe("startup", c.StartupProbe, "/healthz")
	}

	// Time for the graceful shutdown: preStop, then SIGTERM's drain
	// (SHUTDOWN_GRACE) and at most 20s.
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if s := c.Lifecycle.PreStop.Sleep; s != nil {
			preStop = s.Seconds
		} else {
			t.Errorf("%s: preStop can only sleep: the image has no shell", where)
		}
	}
	grace := int64(graceSeconds)
	if v, ok := containerEnv(m, c)["SHUTDOWN_GRACE"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Errorf("%s: SHUTDOWN_GRACE=%q is not a Go duration", where, v)
		}
		grace = int64(math.Ceil(d.Seconds()))
	}
	if g := ptrOr(spec.TerminationGracePeriodSeconds, 30); g < preStop+grace+shutdownSeconds+5 {
		t.Errorf("%s: terminationGracePeriodSeconds %d; want at least %d (preStop %ds + SHUTDOWN_GRACE %ds + shutdown %ds + margin)",
			where, g, preStop+grace+shutdownSeconds+5, preStop, grace, shutdownSeconds)
	}

	svc := m.services[p.name]
	if svc == nil {
		t.Errorf("part %s: no Service named after it", p.name)
	} else if servicePort(svc, "http", 0) != int32(port) {
		t.Errorf("Service %s: want port http on %d, the port its URL variables use", svc.Name, port)
	}
	if m.pdbs[p.name] == nil {
		t.Errorf("part %s: no PodDisruptionBudget", p.name)
	}
}

// natsImageMinor checks a NATS image tag: at least 2.12, and the minor
// release of the nats-server the tests embed (go.mod).
func checkNATSImage(t *testing.T, where, image string) {
	t.Helper()
	repo, tag, _ := strings.Cut(image, ":")
	if repo != "nats" {
		t.Errorf("%s: image %q, want the official nats image", where, image)
		return
	}
	minor := minorOf(tag)
	maj, min, _ := strings.Cut(minor, ".")
	n, err := strconv.Atoi(min)
	if maj != "2" || err != nil || n < minNATSMinor {
		t.Errorf("%s: image %q: want nats-server 2.%d or later (message schedules)", where, image, minNATSMinor)
	}
	_, req := goMod(t)
	if want := minorOf(req["github.com/nats-io/nats-server/v2"]); minor != want {
		t.Errorf("%s: image %q: the tests embed nats-server %s (go.mod); run the release they pass against", where, image, want)
	}
}

func checkNATS(t *testing.T, m *manifests) {
	t.Helper()
	sts := m.statefulSets["nats"]
	if sts == nil {
		t.Fatal("no StatefulSet nats")
	}
	replicas := ptrOr(sts.Spec.Replicas, 1)
	if replicas != 3 {
		t.Errorf("StatefulSet nats: %d replicas, want a 3-server cluster", replicas)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Error("StatefulSet nats: podManagementPolicy must be Parallel: the servers need each other to become ready")
	}
	if svc := m.services[sts.Spec.ServiceName]; svc == nil || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: publishNotReadyAddresses must be true: routes resolve before the servers are ready", sts.Spec.ServiceName)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	checkNATSImage(t, "StatefulSet nats", c.Image)
	want := m.configMaps["ticketing-config"].Data["NATS_STREAM_REPLICAS"]
	if n, err := strconv.Atoi(want); err != nil || n != int(replicas) {
		t.Errorf("NATS_STREAM_REPLICAS=%q: want %d, the NATS servers", want, replicas)
	}

	// The config, parsed by the nats-server the tests embed.
	var confMount string
	var confVolume string
	for _, vm := range c.VolumeMounts {
		for _, v := range sts.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				confMount, confVolume = vm.MountPath, v.ConfigMap.Name
			}
		}
	}
	cm := m.configMaps[confVolume]
	if cm == nil {
		t.Fatal("StatefulSet nats mounts no ConfigMap")
	}
	var confFile string
	for i, a := range c.Command {
		if (a == "--config" || a == "-c") && i+1 < len(c.Command) {
			confFile = c.Command[i+1]
		}
	}
	key, ok := strings.CutPrefix(confFile, confMount+"/")
	if !ok || cm.Data[key] == "" {
		t.Fatalf("StatefulSet nats: --config %q is not a key of the ConfigMap %s mounted at %s", confFile, cm.Name, confMount)
	}
	opts := parseNATSConf(t, sts, cm, key)
	if opts.ServerName != "nats-0" {
		t.Errorf("nats.conf: server_name %q; want the pod's name (POD_NAME)", opts.ServerName)
	}
	if !opts.JetStream {
		t.Error("nats.conf: JetStream is off")
	}
	storeOnClaim := false
	for _, vm := range c.VolumeMounts {
		for _, claim := range sts.Spec.VolumeClaimTemplates {
			if vm.Name == claim.Name && (opts.StoreDir == vm.MountPath || strings.HasPrefix(opts.StoreDir, vm.MountPath+"/")) {
				storeOnClaim = true
			}
		}
	}
	if !storeOnClaim {
		t.Errorf("nats.conf: store_dir %q is not on a PersistentVolumeClaim", opts.StoreDir)
	}
	for name, want := range map[string]int{"client": opts.Port, "cluster": opts.Cluster.Port, "monitor": opts.HTTPPort} {
		if got := containerPort(&sts.Spec.Template, intstr.FromString(name)); int(got) != want || want == 0 {
			t.Errorf("StatefulSet nats: port %s is %d, nats.conf says %d", name, got, want)
		}
	}
	var routes []string
	for _, r := range opts.Routes {
		routes = append(routes, r.Host)
	}
	var wantRoutes []string
	for i := range replicas {
		wantRoutes = append(wantRoutes, fmt.Sprintf("%s-%d.%s:%d", sts.Name, i, sts.Spec.ServiceName, opts.Cluster.Port))
	}
	if !slices.Equal(routes, wantRoutes) {
		t.Errorf("nats.conf: routes %v, want every server %v", routes, wantRoutes)
	}
	if opts.PidFile != "" && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
		if !strings.Contains(strings.Join(c.Lifecycle.PreStop.Exec.Command, " "), opts.PidFile) {
			t.Errorf("StatefulSet nats: preStop does not signal the pid_file %s", opts.PidFile)
		}
	}
	// NATS_URL names the client Service.
	u, err := url.Parse(m.configMaps["ticketing-config"].Data["NATS_URL"])
	port, _ := strconv.Atoi(u.Port())
	if err != nil || u.Scheme != "tls" || m.services[u.Hostname()] == nil || servicePort(m.services[u.Hostname()], "", int32(port)) == 0 {
		t.Errorf("NATS_URL %q is not tls://<a Service>:<its port>: the parts reach NATS over TLS", u)
	} else if sel := m.services[u.Hostname()].Spec.Selector; sel["app.kubernetes.io/name"] != "nats" {
		t.Errorf("NATS_URL's Service %s does not select the NATS servers", u.Hostname())
	}
}

func checkPostgres(t *testing.T, m *manifests) {
	t.Helper()
	sts := m.statefulSets["postgres"]
	if sts == nil {
		t.Fatal("no StatefulSet postgres")
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Image != postgresImage {
		t.Errorf("StatefulSet postgres: image %q, want %q (as in compose.yaml)", c.Image, postgresImage)
	}
	env := containerEnv(m, c)
	checkRoles(t, m, sts)
	for n := range env {
		if !slices.Contains(runtimeEnv, n) {
			t.Errorf("StatefulSet postgres: unexpected variable %s", n)
		}
	}
}
