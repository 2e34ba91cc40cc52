package mixin

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

// dashboardFiles returns every dashboard of grafana/dashboards, parsed, by
// file name.
func dashboardFiles(t testing.TB) map[string]map[string]any {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(stacktest.RepoRoot(t), "grafana/dashboards/*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards in grafana/dashboards (%v)", err)
	}
	out := map[string]map[string]any{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = d
	}
	return out
}

type query struct {
	Where string // dashboard, panel and query, for messages
	Expr  string
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)

// dashboardQueries returns every PromQL expression of the dashboards:
// panel queries, annotation queries and the metric selectors of the
// variables' label_values().
func dashboardQueries(t testing.TB) []query {
	t.Helper()
	var qs []query
	for file, d := range dashboardFiles(t) {
		for _, p := range list(d["panels"]) {
			p := p.(map[string]any)
			for _, tg := range list(p["targets"]) {
				tg := tg.(map[string]any)
				qs = append(qs, query{fmt.Sprintf("%s panel %q query %v", file, p["title"], tg["refId"]), str(tg["expr"])})
			}
		}
		for _, a := range list(obj(d["annotations"])["list"]) {
			if expr := str(obj(a)["expr"]); expr != "" {
				qs = append(qs, query{fmt.Sprintf("%s annotation %q", file, obj(a)["name"]), expr})
			}
		}
		for _, v := range list(obj(d["templating"])["list"]) {
			if def := str(obj(v)["definition"]); def != "" {
				m := labelValues.FindStringSubmatch(def)
				if m == nil {
					t.Errorf("%s variable %v: %q is not label_values(selector, label)", file, obj(v)["name"], def)
					continue
				}
				qs = append(qs, query{fmt.Sprintf("%s variable %v", file, obj(v)["name"]), m[1]})
			}
		}
	}
	return qs
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any) map[string]any {
	o, _ := v.(map[string]any)
	return o
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// grafanaVars are concrete values for Grafana's variables, so that a query
// can be parsed as Prometheus will receive it.
var grafanaVars = strings.NewReplacer(
	"${datasource}", DatasourceUID,
	"$__rate_interval", "1m",
	"$__interval", "15s",
	"$__range", "1h",
	"$instance", "sensor-1:9957",
	"$interface", "(eth0|eth1)",
)

// TestDashboardQueriesParse runs every dashboard expression, with Grafana's
// variables replaced, through promtool check rules as a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := stacktest.NeedTool(t, "promtool")
	qs := dashboardQueries(t)
	var f ruleFile
	g := ruleGroup{Name: "dashboard-queries"}
	for i, q := range qs {
		g.Rules = append(g.Rules, ruleEntry{Record: fmt.Sprintf("dashboard_query_%d", i), Expr: grafanaVars.Replace(q.Expr)})
	}
	f.Groups = append(f.Groups, g)
	data, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := stacktest.RunErr("", nil, promtool, "check", "rules", path)
	if err != nil {
		// promtool names the failing rule: map it back to its panel.
		for i, q := range qs {
			if strings.Contains(out, fmt.Sprintf(`"dashboard_query_%d"`, i)) {
				t.Errorf("%s does not parse: %s", q.Where, q.Expr)
			}
		}
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("%d dashboard queries parse", len(qs))
}

// perSensor are the panels whose queries are per sensor, not per
// interface: they filter on instance only.
var perSensor = map[string]bool{
	"Exporter": true, "Build": true, "Exporter series": true, "Model file": true,
	"Sensors": true, "Sensor status": true, "Sensor availability": true,
}

// grafanaPanels are the plugin ids of the panels the dashboards use, as
// Grafana names them (a wrong case is "Panel plugin not found").
var grafanaPanels = map[string]bool{
	"row": true, "stat": true, "gauge": true, "timeseries": true, "table": true, "state-timeline": true,
	"piechart": true, "geomap": true, "nodeGraph": true,
}

func TestDashboards(t *testing.T) {
	uids := map[string]string{}
	for file, d := range dashboardFiles(t) {
		uid := str(d["uid"])
		if uid == "" || uids[uid] != "" {
			t.Errorf("%s: uid %q missing or also in %s", file, uid, uids[uid])
		}
		uids[uid] = file
		if _, ok := d["id"]; ok {
			t.Errorf("%s: has an id; provisioned dashboards are identified by uid only", file)
		}
		if d["editable"] != false {
			t.Errorf("%s: editable should be false (provisioned from generated files)", file)
		}
		// Grafana 11.0 reads schema version 39 and later, Grafana 12.0 knows
		// up to 41: a newer one (the SDK's default) fails 12.0's backend
		// migration.
		if v, _ := d["schemaVersion"].(float64); v < 39 || v > 41 {
			t.Errorf("%s: schemaVersion %v, want 39 to 41 (Grafana 11 and 12)", file, d["schemaVersion"])
		}

		vars := map[string]map[string]any{}
		for _, v := range list(obj(d["templating"])["list"]) {
			vars[str(obj(v)["name"])] = obj(v)
		}
		if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" ||
			obj(ds["current"])["value"] != DatasourceUID {
			t.Errorf("%s: no datasource variable of type prometheus defaulting to %s", file, DatasourceUID)
		}
		for _, name := range []string{"instance", "interface"} {
			v := vars[name]
			if v == nil || v["multi"] != true || v["includeAll"] != true || v["allValue"] != ".+" {
				t.Errorf("%s: variable %s missing, or not multi-value with All (.+)", file, name)
			}
		}
		if !strings.Contains(str(vars["interface"]["definition"]), `instance=~"$instance"`) {
			t.Errorf("%s: the interface variable should list the selected sensors' interfaces", file)
		}

		ids := map[float64]bool{}
		var cells [24][]bool
		for _, p := range list(d["panels"]) {
			p := obj(p)
			title := str(p["title"])
			id, _ := p["id"].(float64)
			if ids[id] {
				t.Errorf("%s: panel id %v used twice", file, id)
			}
			ids[id] = true
			// No two panels overlap on the grid.
			gp := obj(p["gridPos"])
			x, y, w, h := int(gp["x"].(float64)), int(gp["y"].(float64)), int(gp["w"].(float64)), int(gp["h"].(float64))
			if x+w > 24 {
				t.Errorf("%s: panel %q is wider than the grid", file, title)
			}
			for dx := x; dx < x+w && dx < 24; dx++ {
				for dy := y; dy < y+h; dy++ {
					for len(cells[dx]) <= dy {
						cells[dx] = append(cells[dx], false)
					}
					if cells[dx][dy] {
						t.Errorf("%s: panel %q overlaps another at (%d,%d)", file, title, dx, dy)
					}
					cells[dx][dy] = true
				}
			}
			if !grafanaPanels[str(p["type"])] {
				t.Errorf("%s: panel %q has type %q, not a panel plugin that ships with Grafana", file, title, p["type"])
			}
			if p["type"] == "row" {
				continue
			}
			if obj(p["datasource"])["uid"] != "${datasource}" {
				t.Errorf("%s: panel %q does not use the datasource variable", file, title)
			}
			if len(list(p["targets"])) == 0 {
				t.Errorf("%s: panel %q has no query", file, title)
			}
			for _, tg := range list(p["targets"]) {
				tg := obj(tg)
				expr := str(tg["expr"])
				if obj(tg["datasource"])["uid"] != "${datasource}" {
					t.Errorf("%s: panel %q query %v does not use the datasource variable", file, title, tg["refId"])
				}
				if !strings.Contains(expr, `instance=~"$instance"`) {
					t.Errorf("%s: panel %q query %v is not filtered on $instance: %s", file, title, tg["refId"], expr)
				}
				if !perSensor[title] && !strings.Contains(expr, `interface=~"$interface`) {
					t.Errorf("%s: panel %q query %v is not filtered on $interface: %s", file, title, tg["refId"], expr)
				}
			}
		}
	}
	for _, uid := range []string{OverviewUID, DetectorUID, CaptureUID} {
		if uids[uid] == "" {
			t.Errorf("no dashboard has uid %s, which alerts link to", uid)
		}
	}
	if uids[FleetUID] == "" {
		t.Errorf("no dashboard has uid %s (the fleet overview)", FleetUID)
	}
	for _, st := range pipeline.CaptureStates {
		if captureStateColors[st] == "" {
			t.Errorf("capture state %s has no colour in captureStateColors (the fleet overview's capture state timeline)", st)
		}
	}
	if len(captureStateColors) != len(pipeline.CaptureStates) {
		t.Errorf("captureStateColors has %d states, pipeline.CaptureStates %d", len(captureStateColors), len(pipeline.CaptureStates))
	}
}

// TestGrafanaProvisioning checks that the provisioned data source has the
// uid the dashboards default to and that the dashboard provider is a
// read-only file provider at the path docker-compose mounts the dashboards.
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string         `yaml:"name"`
			UID       string         `yaml:"uid"`
			Type      string         `yaml:"type"`
			Access    string         `yaml:"access"`
			URL       string         `yaml:"url"`
			IsDefault bool           `yaml:"isDefault"`
			Editable  bool           `yaml:"editable"`
			JSONData  map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].UID != DatasourceUID || ds.Datasources[0].Type != "prometheus" ||
		ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("data source: want one prometheus data source with uid %s at http://prometheus:9090, got %+v", DatasourceUID, ds.Datasources)
	}

	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/netanomaly.yml", &prov)
	if len(prov.Providers) != 1 {
		t.Fatalf("want one dashboard provider, got %d", len(prov.Providers))
	}
	p := prov.Providers[0]
	if p.Type != "file" || p.AllowUIUpdates {
		t.Errorf("dashboard provider: want type file with allowUiUpdates false, got %+v", p)
	}
	compose := readCompose(t)
	mount := "./grafana/dashboards:" + p.Options.Path + ":ro"
	if !contains(compose.Services["grafana"].Volumes, mount) {
		t.Errorf("docker-compose.yml does not mount %s for the provider's path", mount)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
