package mixin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

const k8sDir = "deploy/kubernetes"

// kustomization is the part of kustomize's Kustomization that
// deploy/kubernetes uses; decoding it strictly refuses anything else, so a
// new field gets a look here first.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images"`
}

// k8sManifests is deploy/kubernetes decoded into the API types.
type k8sManifests struct {
	Kustomization  kustomization
	Namespace      *corev1.Namespace
	DaemonSet      *appsv1.DaemonSet
	Service        *corev1.Service
	ServiceMonitor *monitoringv1.ServiceMonitor
	PrometheusRule *monitoringv1.PrometheusRule
}

// decodeStrict decodes one YAML document into v as the API server's strict
// field validation does: through JSON, field names matched case-sensitively
// (encoding/json, under sigs.k8s.io/yaml's UnmarshalStrict, would take
// "clusterIp" for clusterIP), unknown and duplicate fields an error.
func decodeStrict(data []byte, v any) error {
	js, err := sigsyaml.YAMLToJSONStrict(data)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(js, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// readManifests strictly decodes kustomization.yaml and every resource it
// lists into its Kubernetes or prometheus-operator type, by kind.
func readManifests(t *testing.T) k8sManifests {
	t.Helper()
	dir := filepath.Join(stacktest.RepoRoot(t), k8sDir)
	var m k8sManifests
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeStrict(data, &m.Kustomization); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	k := m.Kustomization
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion %q kind %q", k.APIVersion, k.Kind)
	}
	// Every manifest of the folder is a resource of the kustomization.
	paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var files []string
	for _, p := range paths {
		if base := filepath.Base(p); base != "kustomization.yaml" {
			files = append(files, base)
		}
	}
	listed := append([]string(nil), k.Resources...)
	sort.Strings(listed)
	if strings.Join(listed, " ") != strings.Join(files, " ") {
		t.Errorf("kustomization.yaml resources %v, the folder has %v", listed, files)
	}
	for _, name := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^---`).Match(data) {
			t.Errorf("%s: one object per file, please", name)
		}
		var tm metav1.TypeMeta
		if err := sigsyaml.Unmarshal(data, &tm); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			m.Namespace = &corev1.Namespace{}
			obj = m.Namespace
		case "apps/v1 DaemonSet":
			m.DaemonSet = &appsv1.DaemonSet{}
			obj = m.DaemonSet
		case "v1 Service":
			m.Service = &corev1.Service{}
			obj = m.Service
		case monitoringv1.SchemeGroupVersion.String() + " " + monitoringv1.ServiceMonitorsKind:
			m.ServiceMonitor = &monitoringv1.ServiceMonitor{}
			obj = m.ServiceMonitor
		case monitoringv1.SchemeGroupVersion.String() + " " + monitoringv1.PrometheusRuleKind:
			m.PrometheusRule = &monitoringv1.PrometheusRule{}
			obj = m.PrometheusRule
		default:
			t.Fatalf("%s: %s %s is new to this test: decode and check it here", name, tm.APIVersion, tm.Kind)
		}
		if err := decodeStrict(data, obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if m.Namespace == nil || m.DaemonSet == nil || m.Service == nil || m.ServiceMonitor == nil || m.PrometheusRule == nil {
		t.Fatalf("%s lacks one of Namespace, DaemonSet, Service, ServiceMonitor, PrometheusRule", k8sDir)
	}
	return m
}

// TestKubernetesStrictDecoding checks that a misspelt or misplaced field
// fails the decoding the other tests rely on.
func TestKubernetesStrictDecoding(t *testing.T) {
	bad := map[string]struct {
		yaml string
		into any
	}{
		"unknown field":   {"apiVersion: v1\nkind: Service\nspec:\n  clusterIp: None\n", &corev1.Service{}},
		"misplaced field": {"apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  hostNetwork: true\n", &appsv1.DaemonSet{}},
		"duplicate field": {"apiVersion: v1\nkind: Service\nkind: Service\n", &corev1.Service{}},
		"operator type":   {"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nspec:\n  endpoints:\n    - port: metrics\n      scrapeInterval: 5s\n", &monitoringv1.ServiceMonitor{}},
	}
	for name, c := range bad {
		if err := decodeStrict([]byte(c.yaml), c.into); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

// TestKubernetesManifests checks what users of deploy/kubernetes rely on:
// least privilege (CAP_NET_RAW only, non-root, read-only root), the host
// network, resources, and that the Service selects the DaemonSet's pods and
// the ServiceMonitor the Service and its port, with the job label the rules
// select.
func TestKubernetesManifests(t *testing.T) {
	m := readManifests(t)
	ds, svc, sm := m.DaemonSet, m.Service, m.ServiceMonitor

	// Namespace: the one everything goes to, admitting host-network pods.
	if m.Kustomization.Namespace != m.Namespace.Name {
		t.Errorf("kustomization namespace %q, but the Namespace is %q", m.Kustomization.Namespace, m.Namespace.Name)
	}
	if m.Namespace.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace %s does not admit host-network pods with NET_RAW (pod-security.kubernetes.io/enforce: privileged)", m.Namespace.Name)
	}

	// DaemonSet.
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("daemonset: hostNetwork %v, dnsPolicy %q; want the host network with ClusterFirstWithHostNet", spec.HostNetwork, spec.DNSPolicy)
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("daemonset: selector %v does not match its pod labels %v (%v)", ds.Spec.Selector, ds.Spec.Template.Labels, err)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("daemonset: the exporter needs no Kubernetes API token: automountServiceAccountToken: false")
	}
	if len(spec.InitContainers) > 0 || len(spec.Containers) != 1 {
		t.Fatalf("daemonset: want exactly one container and no init containers, got %d and %d", len(spec.Containers), len(spec.InitContainers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("daemonset: no container securityContext with capabilities")
	}
	if fmt.Sprint(sc.Capabilities.Drop) != "[ALL]" || fmt.Sprint(sc.Capabilities.Add) != "[NET_RAW]" {
		t.Errorf("daemonset: capabilities drop %v add %v; want drop [ALL] add [NET_RAW]", sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("daemonset: privileged container")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("daemonset: root file system not read-only")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("daemonset: the container does not run as a non-root user")
	}
	// The non-root user gets NET_RAW from the binary's file capability,
	// which no_new_privs would refuse.
	if sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation {
		t.Error("daemonset: allowPrivilegeEscalation must be true for the image's file capability to raise CAP_NET_RAW")
	}
	checkImageCapabilities(t, sc.Capabilities.Add, *sc.RunAsUser)

	// Image: set through the kustomization.
	image := strings.SplitN(c.Image, ":", 2)[0]
	found := false
	for _, im := range m.Kustomization.Images {
		found = found || im.Name == image
	}
	if !found {
		t.Errorf("daemonset image %s has no images: entry in kustomization.yaml to set it", image)
	}

	// The metrics port, the probes and the listen address agree.
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "metrics" {
			port = &c.Ports[i]
		}
	}
	if port == nil || port.ContainerPort != 9957 || port.HostPort != 9957 {
		t.Fatalf("daemonset: no container port metrics 9957 (host port 9957), got %+v", c.Ports)
	}
	if !contains(c.Args, "--web.listen-address=:9957") {
		t.Errorf("daemonset: args %v do not listen on :9957", c.Args)
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "metrics" {
			t.Errorf("daemonset: no %s probe on the metrics port", name)
		}
	}
	if p := c.LivenessProbe; p != nil && p.HTTPGet != nil && p.HTTPGet.Path != "/-/healthy" {
		t.Errorf("daemonset: liveness probe path %q, want /-/healthy", p.HTTPGet.Path)
	}
	if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil && p.HTTPGet.Path != "/-/ready" {
		t.Errorf("daemonset: readiness probe path %q, want /-/ready", p.HTTPGet.Path)
	}

	// Files go to volumes: the root file system is read-only.
	mounts := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = true
	}
	for _, a := range c.Args {
		for _, flag := range []string{"--detector.model-file=", "--events.file="} {
			if f, ok := strings.CutPrefix(a, flag); ok && !mounts[filepath.Dir(f)] {
				t.Errorf("daemonset: %s writes to %s, which is on the read-only root file system", flag, filepath.Dir(f))
			}
		}
	}

	// Resources: a memory request and limit, GOMEMLIMIT under the limit,
	// no CPU limit (throttling drops packets).
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Memory().IsZero() || req.Cpu().IsZero() || lim.Memory().IsZero() {
		t.Errorf("daemonset: want cpu and memory requests and a memory limit, got requests %v limits %v", req, lim)
	}
	if !lim.Cpu().IsZero() {
		t.Errorf("daemonset: CPU limit %v: a throttled capture drops packets", lim.Cpu())
	}
	if req.Memory().Cmp(*lim.Memory()) > 0 {
		t.Errorf("daemonset: memory request %v above the limit %v", req.Memory(), lim.Memory())
	}
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		q, err := resource.ParseQuantity(strings.TrimSuffix(e.Value, "B"))
		if err != nil || q.Cmp(*lim.Memory()) >= 0 {
			t.Errorf("daemonset: GOMEMLIMIT %q is not a size under the memory limit %v (%v)", e.Value, lim.Memory(), err)
		}
	}

	// Service: headless, selects the DaemonSet's pods, port metrics.
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("service: clusterIP %q, want None (headless: every sensor is scraped)", svc.Spec.ClusterIP)
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("service: selector %v does not select the DaemonSet's pods %v", svc.Spec.Selector, ds.Spec.Template.Labels)
	}
	var svcPort *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == "metrics" {
			svcPort = &svc.Spec.Ports[i]
		}
	}
	if svcPort == nil || svcPort.Port != 9957 || (svcPort.TargetPort.String() != "metrics" && svcPort.TargetPort.IntValue() != 9957) {
		t.Errorf("service: no port metrics 9957 to the container's metrics port, got %+v", svc.Spec.Ports)
	}

	// ServiceMonitor: selects the Service and its port; the job label is
	// the one the rules select.
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || smSel.Empty() || !smSel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("servicemonitor: selector %v does not select the Service's labels %v (%v)", sm.Spec.Selector, svc.Labels, err)
	}
	if ns := sm.Spec.NamespaceSelector; !ns.Any && len(ns.MatchNames) > 0 && !contains(ns.MatchNames, m.Kustomization.Namespace) {
		t.Errorf("servicemonitor: namespaceSelector %v leaves out the namespace %s", ns.MatchNames, m.Kustomization.Namespace)
	}
	job := svc.Name
	if sm.Spec.JobLabel != "" {
		job = svc.Labels[sm.Spec.JobLabel]
	}
	if job != "netanomaly" {
		t.Errorf("servicemonitor: the job label would be %q; the rules and dashboards select job=\"netanomaly\"", job)
	}
	interval := promScrapeInterval(t, "netanomaly")
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("servicemonitor: want one endpoint, got %d", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if svcPort != nil && ep.Port != svcPort.Name {
		t.Errorf("servicemonitor: endpoint port %q, the Service's port is named %q", ep.Port, svcPort.Name)
	}
	if string(ep.Interval) != interval {
		t.Errorf("servicemonitor: interval %q, prometheus/prometheus.yml scrapes the exporter every %s (the alert latency budget counts on it)", ep.Interval, interval)
	}
	if ep.Path != "" && ep.Path != "/metrics" {
		t.Errorf("servicemonitor: path %q, the exporter serves /metrics", ep.Path)
	}

	// The flags in args are the exporter's.
	checkExporterFlags(t, c.Args)
}

// checkImageCapabilities checks that the Dockerfile runs as the user the
// DaemonSet names and that its binary's file capabilities are within the
// capabilities the container gets: the kernel refuses to exec a binary
// whose file capabilities exceed the bounding set (EPERM), even as root.
func checkImageCapabilities(t *testing.T, added []corev1.Capability, uid int64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	if !strings.Contains(df, fmt.Sprintf("--uid %d ", uid)) {
		t.Errorf("daemonset runs as uid %d, which the Dockerfile does not create", uid)
	}
	m := regexp.MustCompile(`setcap ([a-z_,]+)\+([eip]+) /usr/local/bin/netanomaly_exporter`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile: no setcap on /usr/local/bin/netanomaly_exporter")
	}
	granted := map[string]bool{}
	for _, c := range added {
		granted["cap_"+strings.ToLower(string(c))] = true
	}
	for _, c := range strings.Split(m[1], ",") {
		if !granted[c] {
			t.Errorf("Dockerfile: file capability %s is not in the DaemonSet's capabilities %v: exec would fail with EPERM", c, added)
		}
	}
	if !strings.Contains(m[2], "e") {
		t.Errorf("Dockerfile: setcap %s+%s has no effective bit; the exporter does not raise capabilities itself", m[1], m[2])
	}
}

// promScrapeInterval returns the scrape interval of a job of
// prometheus/prometheus.yml.
func promScrapeInterval(t *testing.T, job string) string {
	t.Helper()
	doc := stacktest.ReadRepoYAML(t, "prometheus/prometheus.yml")
	for _, sc := range stacktest.YAMLList(t, doc["scrape_configs"], "scrape_configs") {
		sc := stacktest.YAMLMap(t, sc, "scrape_configs")
		if sc["job_name"] == job {
			if s, ok := sc["scrape_interval"].(string); ok {
				return s
			}
			s, _ := stacktest.YAMLMap(t, doc["global"], "global")["scrape_interval"].(string)
			return s
		}
	}
	t.Fatalf("prometheus/prometheus.yml: no job %s", job)
	return ""
}

var flagName = regexp.MustCompile(`--(?:\[no-\])?([a-z][a-z0-9.-]+)`)

// checkExporterFlags checks that every flag in args is one the exporter
// has, from its --help.
func checkExporterFlags(t *testing.T, args []string) {
	t.Helper()
	if testing.Short() {
		t.Log("-short: the DaemonSet's flags are not checked against the exporter's --help")
		return
	}
	out := stacktest.Run(t, "", stacktest.BuildExporter(t), "--help")
	known := map[string]bool{}
	for _, m := range flagName.FindAllStringSubmatch(out, -1) {
		known[m[1]] = true
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !known[strings.TrimPrefix(name, "no-")] {
			t.Errorf("daemonset: %q is not a flag of the exporter", a)
		}
	}
}

// TestPrometheusRuleMatchesRuleFiles checks that the PrometheusRule holds
// exactly the groups of prometheus/rules/*.yml, in file name order, rule by
// rule, as data (TestGeneratedFiles checks the text).
func TestPrometheusRuleMatchesRuleFiles(t *testing.T) {
	m := readManifests(t)
	pr := m.PrometheusRule
	if pr.Name != PrometheusRuleName {
		t.Errorf("PrometheusRule named %q, want %q", pr.Name, PrometheusRuleName)
	}
	files := ruleFiles(t)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var want []ruleGroup
	for _, p := range paths {
		want = append(want, files[p].Groups...)
	}
	got := pr.Spec.Groups
	if len(got) != len(want) {
		t.Fatalf("PrometheusRule has %d groups, prometheus/rules %d", len(got), len(want))
	}
	names := map[string]bool{}
	rules := 0
	for i, w := range want {
		g := got[i]
		if names[g.Name] {
			t.Errorf("group %s twice: Prometheus refuses a rule file with two groups of one name", g.Name)
		}
		names[g.Name] = true
		if g.Name != w.Name || durationString(g.Interval) != w.Interval {
			t.Errorf("group %d: %s (interval %q), want %s (interval %q)", i, g.Name, durationString(g.Interval), w.Name, w.Interval)
			continue
		}
		if len(g.Rules) != len(w.Rules) {
			t.Errorf("group %s: %d rules, want %d", g.Name, len(g.Rules), len(w.Rules))
			continue
		}
		for j, wr := range w.Rules {
			gr := ruleEntry{
				Record: g.Rules[j].Record, Alert: g.Rules[j].Alert, Expr: g.Rules[j].Expr.String(),
				For: durationString(g.Rules[j].For), Labels: g.Rules[j].Labels, Annotations: g.Rules[j].Annotations,
			}
			if !reflect.DeepEqual(gr, wr) {
				t.Errorf("group %s rule %d differs:\n got %+v\nwant %+v", g.Name, j, gr, wr)
			}
			if d := durationString(g.Rules[j].For); d != "" && !operatorDuration.MatchString(d) {
				t.Errorf("group %s rule %d: for: %q is not a duration the PrometheusRule CRD accepts", g.Name, j, d)
			}
			rules++
		}
	}
	t.Logf("PrometheusRule: %d groups, %d rules, as in prometheus/rules", len(got), rules)
}

// operatorDuration is the pattern the prometheus-operator CRDs validate
// durations with (monitoringv1.Duration's kubebuilder marker): decoding into
// the Go type does not check it, the API server does.
var operatorDuration = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

func durationString(d *monitoringv1.Duration) string {
	if d == nil {
		return ""
	}
	return string(*d)
}
