package monitoring

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/netanomaly/netanomaly_exporter/collector"
)

// FleetUID is the uid of the fleet overview dashboard, the first to open
// over many sensors (a global Prometheus, Thanos or Mimir).
const FleetUID = "netanomaly-fleet"

// DatasourceUID is the uid of the Prometheus data source that
// grafana/provisioning/datasources/prometheus.yml provisions; the
// dashboards' datasource variable defaults to it.
const DatasourceUID = "netanomaly-prometheus"

// sel filters a selector on the dashboard's sensors and interfaces; every
// per-interface query uses it, so the dashboards stay correct with many
// sensors.
const sel = `instance=~"$instance", interface=~"$interface"`

// m is metric filtered on the selected sensors and interfaces.
func m(metric string) string { return metric + "{" + sel + "}" }

// mWhole is m of the whole interfaces' views only, leaving out their host
// groups' (group="" also matches series without the label).
func mWhole(metric string) string { return metric + "{" + sel + `, group=""}` }

// Dashboards returns the dashboards as grafana/dashboards file names and
// their JSON.
func Dashboards() map[string][]byte {
	out := map[string][]byte{}
	for name, d := range map[string]dashboard{
		"overview.json":       overviewDashboard(),
		"detector.json":       detectorDashboard(),
		"capture-health.json": captureDashboard(),
		"fleet.json":          fleetDashboard(),
	} {
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			panic(err)
		}
		out[name] = append(data, '\n')
	}
	return out
}

// Grafana dashboard JSON model, as much of it as these dashboards use.
// Fields are in a fixed order and maps marshal sorted, so the output is
// stable.
type dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Description   string      `json:"description"`
	Tags          []string    `json:"tags"`
	Editable      bool        `json:"editable"`
	GraphTooltip  int         `json:"graphTooltip"`
	Refresh       string      `json:"refresh"`
	SchemaVersion int         `json:"schemaVersion"`
	Time          timeRange   `json:"time"`
	Timezone      string      `json:"timezone"`
	Links         []link      `json:"links"`
	Annotations   annotations `json:"annotations"`
	Templating    templating  `json:"templating"`
	Panels        []panel     `json:"panels"`
}

type timeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type link struct {
	Type        string   `json:"type"`
	Title       string   `json:"title"`
	Tags        []string `json:"tags"`
	AsDropdown  bool     `json:"asDropdown"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
}

type annotations struct {
	List []annotation `json:"list"`
}

type annotation struct {
	Name        string        `json:"name"`
	BuiltIn     int           `json:"builtIn,omitempty"`
	Type        string        `json:"type,omitempty"`
	Datasource  datasourceRef `json:"datasource"`
	Enable      bool          `json:"enable"`
	Hide        bool          `json:"hide"`
	IconColor   string        `json:"iconColor"`
	Expr        string        `json:"expr,omitempty"`
	Step        string        `json:"step,omitempty"`
	TitleFormat string        `json:"titleFormat,omitempty"`
	TextFormat  string        `json:"textFormat,omitempty"`
	TagKeys     string        `json:"tagKeys,omitempty"`
}

type templating struct {
	List []variable `json:"list"`
}

type variable struct {
	Name       string         `json:"name"`
	Label      string         `json:"label"`
	Type       string         `json:"type"`
	Datasource *datasourceRef `json:"datasource,omitempty"`
	Query      any            `json:"query"`
	Definition string         `json:"definition,omitempty"`
	Current    map[string]any `json:"current"`
	Multi      bool           `json:"multi"`
	IncludeAll bool           `json:"includeAll"`
	AllValue   string         `json:"allValue,omitempty"`
	Refresh    int            `json:"refresh"`
	Sort       int            `json:"sort"`
	Regex      string         `json:"regex"`
	Hide       int            `json:"hide"`
	Options    []any          `json:"options"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

var promDS = datasourceRef{Type: "prometheus", UID: "${datasource}"}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Description     string           `json:"description,omitempty"`
	GridPos         gridPos          `json:"gridPos"`
	Datasource      *datasourceRef   `json:"datasource,omitempty"`
	Targets         []target         `json:"targets,omitempty"`
	FieldConfig     *fieldConfig     `json:"fieldConfig,omitempty"`
	Options         map[string]any   `json:"options,omitempty"`
	Transformations []transformation `json:"transformations,omitempty"`
	Collapsed       *bool            `json:"collapsed,omitempty"`
	Panels          []panel          `json:"panels,omitempty"`
}

type target struct {
	RefID        string        `json:"refId"`
	Datasource   datasourceRef `json:"datasource"`
	Expr         string        `json:"expr"`
	LegendFormat string        `json:"legendFormat,omitempty"`
	Range        bool          `json:"range"`
	Instant      bool          `json:"instant"`
	Format       string        `json:"format,omitempty"`
}

type fieldConfig struct {
	Defaults  fieldDefaults `json:"defaults"`
	Overrides []override    `json:"overrides"`
}

type fieldDefaults struct {
	Unit       string         `json:"unit,omitempty"`
	Min        *float64       `json:"min,omitempty"`
	Max        *float64       `json:"max,omitempty"`
	Decimals   *int           `json:"decimals,omitempty"`
	Color      map[string]any `json:"color,omitempty"`
	Thresholds *thresholds    `json:"thresholds,omitempty"`
	Mappings   []any          `json:"mappings"`
	Custom     map[string]any `json:"custom,omitempty"`
}

type thresholds struct {
	Mode  string `json:"mode"`
	Steps []step `json:"steps"`
}

type step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

type override struct {
	Matcher    map[string]any   `json:"matcher"`
	Properties []map[string]any `json:"properties"`
}

type transformation struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
}

func fptr(v float64) *float64 { return &v }

// steps builds threshold steps: a base colour, then value, colour pairs.
func steps(base string, rest ...any) *thresholds {
	t := &thresholds{Mode: "absolute", Steps: []step{{Color: base}}}
	for i := 0; i+1 < len(rest); i += 2 {
		t.Steps = append(t.Steps, step{Color: rest[i+1].(string), Value: fptr(rest[i].(float64))})
	}
	return t
}

// valueMap maps exact values to a text and colour, in order.
func valueMap(pairs ...string) []any {
	opts := map[string]any{}
	for i := 0; i+2 < len(pairs); i += 3 {
		opts[pairs[i]] = map[string]any{"text": pairs[i+1], "color": pairs[i+2], "index": i / 3}
	}
	return []any{map[string]any{"type": "value", "options": opts}}
}

// Query helpers: q for a time series, qi for an instant table query.
func q(expr, legend string) target {
	return target{Datasource: promDS, Expr: expr, LegendFormat: legend, Range: true}
}

func qi(expr string) target {
	return target{Datasource: promDS, Expr: expr, Instant: true, Format: "table"}
}

const (
	legendIface = "{{instance}} {{interface}}"
	// legendView names a view: an interface, or one of its host groups.
	legendView = "{{instance}} {{interface}} {{group}}"
)

// Panel builders. Sizes are in grid units (24 wide).

func row(title string) panel {
	return panel{Type: "row", Title: title, GridPos: gridPos{H: 1, W: 24}, Collapsed: new(bool), Panels: []panel{}}
}

func timeseries(title, desc, unit string, w, h int, targets ...target) panel {
	return panel{
		Type: "timeseries", Title: title, Description: desc, GridPos: gridPos{H: h, W: w},
		Datasource: &promDS, Targets: targets,
		FieldConfig: &fieldConfig{Defaults: fieldDefaults{
			Unit:     unit,
			Color:    map[string]any{"mode": "palette-classic"},
			Mappings: []any{},
			Custom: map[string]any{
				"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
				"spanNulls": false, "axisSoftMin": 0,
			},
		}, Overrides: []override{}},
		Options: map[string]any{
			"legend":  map[string]any{"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []string{"lastNotNull", "max"}},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		},
	}
}

func stat(title, desc, unit string, w, h int, t target) panel {
	return panel{
		Type: "stat", Title: title, Description: desc, GridPos: gridPos{H: h, W: w},
		Datasource: &promDS, Targets: []target{t},
		FieldConfig: &fieldConfig{Defaults: fieldDefaults{
			Unit: unit, Color: map[string]any{"mode": "thresholds"},
			Thresholds: steps("green"), Mappings: []any{},
		}, Overrides: []override{}},
		Options: map[string]any{
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "background", "graphMode": "none", "justifyMode": "auto",
			"orientation": "auto", "textMode": "value_and_name", "wideLayout": true,
		},
	}
}

func table(title, desc string, w, h int, rename map[string]string, targets ...target) panel {
	tr := []transformation{}
	if len(targets) > 1 {
		tr = append(tr, transformation{ID: "merge", Options: map[string]any{}})
	}
	tr = append(tr, transformation{ID: "organize", Options: map[string]any{
		"excludeByName": map[string]any{"Time": true},
		"renameByName":  rename,
	}})
	return panel{
		Type: "table", Title: title, Description: desc, GridPos: gridPos{H: h, W: w},
		Datasource: &promDS, Targets: targets,
		FieldConfig: &fieldConfig{Defaults: fieldDefaults{
			Mappings: []any{}, Custom: map[string]any{"align": "auto", "filterable": true},
		}, Overrides: []override{}},
		Options:         map[string]any{"showHeader": true, "cellHeight": "sm"},
		Transformations: tr,
	}
}

func stateTimeline(title, desc string, w, h int, mappings []any, t target) panel {
	return panel{
		Type: "state-timeline", Title: title, Description: desc, GridPos: gridPos{H: h, W: w},
		Datasource: &promDS, Targets: []target{t},
		FieldConfig: &fieldConfig{Defaults: fieldDefaults{
			Color: map[string]any{"mode": "thresholds"}, Thresholds: steps("green"),
			Mappings: mappings, Custom: map[string]any{"fillOpacity": 80, "lineWidth": 0},
		}, Overrides: []override{}},
		Options: map[string]any{
			"mergeValues": true, "showValue": "never", "alignValue": "left", "rowHeight": 0.9,
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": false},
			"tooltip": map[string]any{"mode": "single", "sort": "none"},
		},
	}
}

// layout places panels left to right, wrapping at the grid's width,
// numbers them, and names their queries A, B, C...
func layout(panels ...panel) []panel {
	x, y, rowH := 0, 0, 0
	for i := range panels {
		p := &panels[i]
		p.ID = i + 1
		for j := range p.Targets {
			p.Targets[j].RefID = string(rune('A' + j))
		}
		if p.Type == "row" || x+p.GridPos.W > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		p.GridPos.X, p.GridPos.Y = x, y
		x += p.GridPos.W
		if p.GridPos.H > rowH {
			rowH = p.GridPos.H
		}
		if p.Type == "row" {
			x, y, rowH = 0, y+1, 0
		}
	}
	return panels
}

func newDashboard(uid, title, desc string, withAlertAnnotations bool, panels ...panel) dashboard {
	ann := []annotation{{
		Name: "Annotations & Alerts", BuiltIn: 1, Type: "dashboard",
		Datasource: datasourceRef{Type: "grafana", UID: "-- Grafana --"},
		Enable:     true, Hide: true, IconColor: "rgba(0, 211, 255, 1)",
	}}
	if withAlertAnnotations {
		ann = append(ann, annotation{
			Name:       "Detection alerts",
			Datasource: promDS, Enable: true, IconColor: "red",
			Expr:        `max by (alertname, severity, attack_type, instance, interface) (ALERTS{alertstate="firing", attack_type=~".+", ` + sel + `})`,
			Step:        "10s",
			TitleFormat: "{{alertname}} ({{severity}})",
			TextFormat:  "{{attack_type}} on {{interface}} at {{instance}}",
			TagKeys:     "attack_type,severity",
		})
	}
	return dashboard{
		UID: uid, Title: title, Description: desc,
		Tags:     []string{"netanomaly"},
		Editable: false, GraphTooltip: 1, Refresh: "10s", SchemaVersion: 39,
		Time: timeRange{From: "now-1h", To: "now"}, Timezone: "browser",
		Links:       []link{{Type: "dashboards", Title: "NetAnomaly", Tags: []string{"netanomaly"}, AsDropdown: false, IncludeVars: true, KeepTime: true}},
		Annotations: annotations{List: ann},
		Templating: templating{List: []variable{
			{
				Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus",
				Current: map[string]any{"text": "Prometheus", "value": DatasourceUID},
				Refresh: 1, Options: []any{},
			},
			queryVariable("instance", "Sensor", "label_values(netanomaly_build_info, instance)"),
			queryVariable("interface", "Interface", `label_values(netanomaly_capture_up{instance=~"$instance"}, interface)`),
		}},
		Panels: layout(panels...),
	}
}

// queryVariable is a multi-value variable with All, which matches any
// value (.+) rather than listing every sensor in the query.
func queryVariable(name, label, query string) variable {
	return variable{
		Name: name, Label: label, Type: "query", Datasource: &promDS,
		Query:      map[string]any{"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
		Definition: query,
		Current:    map[string]any{"text": []string{"All"}, "value": []string{"$__all"}},
		Multi:      true, IncludeAll: true, AllValue: ".+", Refresh: 2, Sort: 1, Options: []any{},
	}
}

func withMappings(p panel, mappings []any, th *thresholds) panel {
	p.FieldConfig.Defaults.Mappings = mappings
	if th != nil {
		p.FieldConfig.Defaults.Thresholds = th
	}
	return p
}

func withRange(p panel, min, max float64) panel {
	p.FieldConfig.Defaults.Min, p.FieldConfig.Defaults.Max = fptr(min), fptr(max)
	return p
}

// dashed draws the series whose name matches re as a dashed line (the
// threshold under a score).
func dashed(p panel, re string) panel {
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, override{
		Matcher: map[string]any{"id": "byRegexp", "options": re},
		Properties: []map[string]any{
			{"id": "custom.lineStyle", "value": map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{"id": "custom.fillOpacity", "value": 0},
		},
	})
	return p
}

var (
	threatMappings = valueMap("0", "none", "green", "1", "low", "yellow", "2", "medium", "orange", "3", "high", "red")
	threatSteps    = steps("green", 1.0, "yellow", 2.0, "orange", 3.0, "red")
	upMappings     = valueMap("0", "Down", "red", "1", "Up", "green")
	upSteps        = steps("red", 1.0, "green")
)

// firingAlerts selects the stack's firing alerts of the selected sensors;
// interface may be empty (NetAnomalyExporterDown has none).
const firingAlerts = `ALERTS{alertstate="firing", alertname=~"NetAnomaly.+", instance=~"$instance", interface=~"$interface|"}`

func overviewDashboard() dashboard {
	return newDashboard(OverviewUID, "NetAnomaly / Overview",
		"Detection status, attacks and traffic per sensor and interface.", true,
		row("Status"),
		withMappings(stat("Status", "Whether the last window of each interface was anomalous.", "", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_anomalous")+")", legendView)),
			valueMap("0", "Normal", "green", "1", "Anomalous", "red"), steps("green", 1.0, "red")),
		withMappings(stat("Threat level", "Threat level of the last window: none, low, medium, high.", "", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_threat_level")+")", legendView)),
			threatMappings, threatSteps),
		withRange(stat("Confidence", "Confidence of the last verdict.", "percentunit", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_confidence")+")", legendView)), 0, 1),
		withMappings(stat("Active attacks", "Attack types active now, per interface.", "", 4, 5,
			q("sum by (instance, interface, group) ("+m("netanomaly_attack")+")", legendView)),
			nil, steps("green", 1.0, "red")),
		withMappings(stat("Capture", "Whether each capture source is open.", "", 4, 5,
			q("min by (instance, interface) ("+m("netanomaly_capture_up")+")", legendIface)),
			upMappings, upSteps),
		withMappings(stat("Firing alerts", "NetAnomaly alerts firing now on the selected sensors.", "", 4, 5,
			q("count("+firingAlerts+") or vector(0)", "firing")),
			nil, steps("green", 1.0, "red")),

		row("Detection"),
		dashed(withRange(timeseries("Anomaly score", "Ensemble score of each window (solid) and the threshold above which a window is anomalous (dashed).", "none", 12, 9,
			q("max by (instance, interface, group) ("+m("netanomaly_anomaly_score")+")", legendView+" score"),
			q("max by (instance, interface, group) ("+m("netanomaly_anomaly_threshold")+")", legendView+" threshold"),
		), 0, 1), ".*threshold$"),
		table("Active attacks", "Attack types active now and their confidence.", 12, 9,
			map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "type": "Attack", "Value": "Confidence"},
			qi("max by (instance, interface, group, type) ("+m("netanomaly_attack_confidence")+")\nand on (instance, interface, group, type)\n(max by (instance, interface, group, type) ("+m("netanomaly_attack")+") == 1)")),
		table("Firing alerts", "NetAnomaly alerts firing now (from the ALERTS series of Prometheus).", 24, 6,
			map[string]string{"alertname": "Alert", "severity": "Severity", "attack_type": "Attack", "instance": "Sensor", "interface": "Interface", "Value": "Firing"},
			qi("max by (alertname, severity, attack_type, instance, interface) ("+firingAlerts+")")),

		row("Traffic"),
		stat("Packets/s", "Packets per second over the last minute.", "pps", 4, 5,
			q("sum by (instance, interface) ("+m("interface:netanomaly_packets:rate1m")+")", legendIface)),
		stat("Throughput", "Bits per second over the last minute.", "bps", 4, 5,
			q("sum by (instance, interface) ("+m("interface:netanomaly_bytes:rate1m")+") * 8", legendIface)),
		stat("Unique sources", "Distinct source addresses in the last window.", "short", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_window_unique_source_addresses_per_window")+")", legendView)),
		stat("Unique destinations", "Distinct destination addresses in the last window.", "short", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_window_unique_destination_addresses_per_window")+")", legendView)),
		stat("Destination ports", "Distinct TCP and UDP destination ports in the last window.", "short", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_window_unique_destination_ports_per_window")+")", legendView)),
		stat("New flows/s", "Flows first seen in the last window, per second.", "short", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_window_new_flows_per_second")+")", legendView)),
		timeseries("Traffic by protocol", "Bits per second by outer layer-4 protocol.", "bps", 12, 9,
			q("sum by (instance, interface, protocol) ("+m("interface_protocol:netanomaly_bytes:rate1m")+") * 8", legendIface+" {{protocol}}")),
		timeseries("Packets by protocol", "Packets per second by outer layer-4 protocol.", "pps", 12, 9,
			q("sum by (instance, interface, protocol) ("+m("interface_protocol:netanomaly_packets:rate1m")+")", legendIface+" {{protocol}}")),
		panel{
			Type: "piechart", Title: "Protocol distribution", Description: "Share of bytes by protocol over the dashboard's time range, all selected interfaces together.",
			GridPos: gridPos{H: 9, W: 8}, Datasource: &promDS,
			Targets:     []target{{Datasource: promDS, Expr: "sum by (protocol) (avg_over_time(" + m("interface_protocol:netanomaly_bytes:rate1m") + "[$__range]))", LegendFormat: "{{protocol}}", Instant: true}},
			FieldConfig: &fieldConfig{Defaults: fieldDefaults{Unit: "Bps", Color: map[string]any{"mode": "palette-classic"}, Mappings: []any{}}, Overrides: []override{}},
			Options: map[string]any{
				"pieType":       "donut",
				"displayLabels": []string{"name"},
				"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
				"legend":        map[string]any{"displayMode": "table", "placement": "right", "showLegend": true, "values": []string{"percent"}},
				"tooltip":       map[string]any{"mode": "single", "sort": "none"},
			},
		},
		timeseries("Traffic by application", "Bits per second by application, guessed from well-known ports (applications with traffic only).", "bps", 16, 9,
			q("sum by (instance, interface, app) ("+m("interface_app:netanomaly_app_bytes:rate1m")+") * 8 > 0", legendIface+" {{app}}")),

		row("Top talkers"),
		table("Top sources", "Busiest sources by bytes in the last window. Needs --features.top-k; addresses follow --privacy.ip.", 8, 8,
			map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "rank": "Rank", "address": "Address", "Value": "Bytes"},
			qi("max by (instance, interface, group, rank, address) ("+m("netanomaly_top_source_bytes")+")")),
		table("Top destinations", "Busiest destinations by bytes in the last window. Needs --features.top-k.", 8, 8,
			map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "rank": "Rank", "address": "Address", "Value": "Bytes"},
			qi("max by (instance, interface, group, rank, address) ("+m("netanomaly_top_destination_bytes")+")")),
		table("Attack sources", "Top sources of each active attack, when the detector exports them.", 8, 8,
			map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "type": "Attack", "rank": "Rank", "address": "Address", "Value": "Active"},
			qi("max by (instance, interface, group, type, rank, address) ("+m("netanomaly_attack_source_info")+")")),

		row("Where traffic comes from"),
		countryMap(),
		table("Attack source countries", "Countries of the named sources of each active attack (needs --geoip.database).", 8, 10,
			map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "type": "Attack", "country": "Country", "Value": "Active"},
			qi("max by (instance, interface, group, type, country) ("+m("netanomaly_attack_source_country_info")+")")),
		attackPaths(),
		conversations(),
	)
}

// conversations is a node graph of the busiest conversations (initiator
// to responder) at the last window's close, from the top-k series.
func conversations() panel {
	pairs := m("netanomaly_top_pair_packets")
	nodes := qi("max by (id) (label_replace(" + pairs + `, "id", "$1", "source", "(.*)"))` +
		"\nor\nmax by (id) (label_replace(" + pairs + `, "id", "$1", "destination", "(.*)"))`)
	nodes.RefID = "nodes"
	edges := qi("max by (id, source, target) (label_replace(label_join(" + pairs + `, "id", " -> ", "source", "destination"), "target", "$1", "destination", "(.*)"))`)
	edges.RefID = "edges"
	return panel{
		Type: "nodegraph", Title: "Busiest conversations",
		Description: "The busiest conversations, initiator to responder, by the packets of their flows open at the last window's close (needs --features.top-k; addresses follow --privacy.ip).",
		GridPos:     gridPos{H: 10, W: 24}, Datasource: &promDS, Targets: []target{nodes, edges},
		Options: map[string]any{
			"nodes": map[string]any{"mainStatUnit": "none"},
			"edges": map[string]any{"mainStatUnit": "none"},
		},
		Transformations: []transformation{{ID: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"renameByName":  map[string]any{"Value": "mainstat"},
		}}},
	}
}

// countryMap is a world map of packets per second by source country
// (--geoip.database), circles placed by ISO code with Grafana's own
// country gazetteer.
func countryMap() panel {
	t := qi("sum by (country) (rate(" + m("netanomaly_country_packets_total") + "[$__rate_interval]))")
	return panel{
		Type: "geomap", Title: "Packets/s by source country",
		Description: "Where the selected interfaces' traffic comes from: packets per second by source country over the last minutes (needs --geoip.database). unknown (private addresses) and other (countries never in a window's top 20) have no place on the map.",
		GridPos:     gridPos{H: 10, W: 8}, Datasource: &promDS, Targets: []target{t},
		FieldConfig: &fieldConfig{Defaults: fieldDefaults{Unit: "pps", Color: map[string]any{"mode": "continuous-GrYlRd"}, Mappings: []any{}}, Overrides: []override{}},
		Options: map[string]any{
			"view":     map[string]any{"id": "zero", "lat": 0, "lon": 0, "zoom": 1},
			"controls": map[string]any{"showZoom": true, "mouseWheelZoom": false, "showAttribution": true},
			"basemap":  map[string]any{"type": "default", "name": "Basemap"},
			"layers": []any{map[string]any{
				"type": "markers", "name": "Countries",
				"location": map[string]any{"mode": "lookup", "lookup": "country", "gazetteer": "public/gazetteer/countries.json"},
				"config": map[string]any{
					"showLegend": true,
					"style": map[string]any{
						"size":    map[string]any{"field": "Value", "fixed": 5, "min": 4, "max": 30},
						"color":   map[string]any{"field": "Value"},
						"opacity": 0.5,
					},
				},
			}},
			"tooltip": map[string]any{"mode": "details"},
		},
	}
}

// attackPaths is a node graph of the attacks in progress: an edge from
// each top source to each top target (--detector.attack-sources). The
// node graph takes a frame with an id field as its nodes and one with
// source and target fields as its edges.
func attackPaths() panel {
	paths := m("netanomaly_attack_path_info")
	nodes := qi("max by (id) (label_replace(" + paths + `, "id", "$1", "source", "(.*)"))` +
		"\nor\nmax by (id) (label_replace(" + paths + `, "id", "$1", "target", "(.*)"))`)
	nodes.RefID = "nodes"
	edges := qi("max by (id, source, target, type) (label_join(" + paths + `, "id", " -> ", "source", "target"))`)
	edges.RefID = "edges"
	return panel{
		Type: "nodegraph", Title: "Attack paths",
		Description: "Attacks in progress, from their top sources to their top targets, the attack type on each edge. Needs --detector.attack-sources; addresses follow --privacy.ip.",
		GridPos:     gridPos{H: 10, W: 8}, Datasource: &promDS, Targets: []target{nodes, edges},
		Options: map[string]any{
			"nodes": map[string]any{"mainStatUnit": "none"},
			"edges": map[string]any{"mainStatUnit": "none"},
		},
		Transformations: []transformation{{ID: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"renameByName":  map[string]any{"type": "mainstat"},
		}}},
	}
}

// topExplained is metric of the three features of each view furthest
// from their baseline: the explanation series are one per feature, so the
// ranking is topk's, by absolute z-score.
func topExplained(metric string) string {
	by := "max by (instance, interface, group, feature) ("
	return by + m(metric) + ") and on (instance, interface, group, feature) " +
		"topk by (instance, interface, group) (3, abs(" + by + m("netanomaly_explanation_zscore") + ")))"
}

// withSort sorts a table by a column, largest first.
func withSort(p panel, column string) panel {
	p.Options["sortBy"] = []map[string]any{{"displayName": column, "desc": true}}
	return p
}

func detectorDashboard() dashboard {
	return newDashboard(DetectorUID, "NetAnomaly / Detector",
		"Model scores, attack timeline, explanations and training state of the detector.", true,
		row("Scores"),
		dashed(withRange(timeseries("Model scores", "Calibrated score of each ensemble member, the ensemble score and its threshold (dashed).", "none", 16, 9,
			q("max by (instance, interface, group, model) ("+m("netanomaly_model_score")+")", legendView+" {{model}}"),
			q("max by (instance, interface, group) ("+m("netanomaly_anomaly_score")+")", legendView+" ensemble"),
			q("max by (instance, interface, group) ("+m("netanomaly_anomaly_threshold")+")", legendView+" threshold"),
		), 0, 1), ".*threshold$"),
		withRange(timeseries("Confidence", "Confidence of each window's verdict.", "percentunit", 8, 9,
			q("max by (instance, interface, group) ("+m("netanomaly_confidence")+")", legendView)), 0, 1),
		stateTimeline("Threat level", "Threat level of each window.", 24, 5, threatMappings,
			q("max by (instance, interface, group) ("+m("netanomaly_threat_level")+")", legendView)),

		row("Attacks"),
		stateTimeline("Attack timeline", "When each attack type was active (one bar per attack).", 24, 8,
			valueMap("1", "active", "red"),
			q("max by (instance, interface, group, type) ("+m("netanomaly_attack")+") > 0", legendView+" {{type}}")),
		timeseries("Anomalous windows by type", "Anomalous windows in the last hour, by attack type (unknown: no type named).", "short", 12, 8,
			q("sum by (instance, interface, group, type) ("+m("interface_group_type:netanomaly_anomalies:increase1h")+") > 0", legendView+" {{type}}")),
		timeseries("Attacks started", "Attacks started in the last hour, by type.", "short", 12, 8,
			q("sum by (instance, interface, group, type) ("+m("interface_group_type:netanomaly_attacks:increase1h")+") > 0", legendView+" {{type}}")),

		row("Explanation"),
		withSort(table("Top features of the last anomalous window", "The three features furthest from their expected range (largest absolute robust z-score) of each view, with their value and the expected range.", 24, 8,
			map[string]string{
				"instance": "Sensor", "interface": "Interface", "group": "Group", "feature": "Feature",
				"Value #A": "z-score", "Value #B": "Value", "Value #C": "Expected low", "Value #D": "Expected high",
			},
			qi(topExplained("netanomaly_explanation_zscore")),
			qi(topExplained("netanomaly_explanation_value")),
			qi(topExplained("netanomaly_explanation_expected_low")),
			qi(topExplained("netanomaly_explanation_expected_high")),
		), "z-score"),

		row("Training"),
		withMappings(stat("Trained", "Whether the detector has finished its warm-up.", "", 4, 5,
			q("min by (instance, interface, group) ("+m("netanomaly_detector_trained")+")", legendView)),
			valueMap("0", "Warming up", "orange", "1", "Trained", "green"), steps("orange", 1.0, "green")),
		withRange(panel{
			Type: "gauge", Title: "Warm-up progress", Description: "Share of the warm-up done.",
			GridPos: gridPos{H: 5, W: 4}, Datasource: &promDS,
			Targets: []target{q("max by (instance, interface, group) ("+m("netanomaly_detector_warmup_progress")+")", legendView)},
			FieldConfig: &fieldConfig{Defaults: fieldDefaults{
				Unit: "percentunit", Color: map[string]any{"mode": "thresholds"},
				Thresholds: steps("orange", 1.0, "green"), Mappings: []any{},
			}, Overrides: []override{}},
			Options: map[string]any{
				"reduceOptions":        map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
				"showThresholdLabels":  false,
				"showThresholdMarkers": true,
				"orientation":          "auto",
			},
		}, 0, 1),
		stat("Training windows", "Windows the current model was trained on.", "short", 4, 5,
			q("max by (instance, interface, group) ("+m("netanomaly_detector_training_windows")+")", legendView)),
		withMappings(stat("Model age", "Time since the last (re)training.", "s", 4, 5,
			q("time() - max by (instance, interface, group) ("+m("netanomaly_detector_last_train_timestamp_seconds")+" > 0)", legendView)),
			nil, steps("green", 43200.0, "yellow", 86400.0, "red")),
		stat("Retrains (24h)", "Retrainings in the last 24 hours.", "short", 4, 5,
			q("sum by (instance, interface) ("+m("interface:netanomaly_detector_retrains:increase1d")+")", legendIface)),
		withMappings(stat("Model file", "Whether the model file loaded (per sensor).", "", 4, 5,
			q(`min by (instance) (netanomaly_detector_model_load_success{instance=~"$instance"})`, "{{instance}}")),
			valueMap("0", "Failed", "red", "1", "Loaded", "green"), steps("red", 1.0, "green")),
		timeseries("Scoring time", "Seconds spent scoring per second: the share of one core.", "percentunit", 24, 7,
			q("sum by (instance, interface) ("+m("interface:netanomaly_detector_scoring_seconds:rate5m")+")", legendIface)),
	)
}

func captureDashboard() dashboard {
	return newDashboard(CaptureUID, "NetAnomaly / Capture health",
		"Capture sources, drops, decode errors, processing time and flow table of each sensor.", false,
		row("Status"),
		withMappings(stat("Exporter", "Whether Prometheus scrapes each exporter (job netanomaly).", "", 4, 5,
			q(`max by (instance) (up{job="netanomaly", instance=~"$instance"})`, "{{instance}}")),
			upMappings, upSteps),
		withMappings(stat("Capture", "Whether each capture source is open.", "", 4, 5,
			q("min by (instance, interface) ("+m("netanomaly_capture_up")+")", legendIface)),
			upMappings, upSteps),
		withMappings(stat("Reopens (1h)", "Times a failed capture source was reopened in the last hour.", "short", 4, 5,
			q("sum by (instance, interface) ("+m("interface:netanomaly_capture_reopens:increase1h")+")", legendIface)),
			nil, steps("green", 1.0, "orange")),
		withMappings(stat("Drop ratio", "Packets dropped by the kernel ring or the exporter's queue, as a share of those received (5m). NetAnomalyCaptureDropping fires above 0.1%.", "percentunit", 4, 5,
			q("max by (instance, interface) ("+m("interface:netanomaly_capture_packets_dropped:ratio_rate5m")+")", legendIface)),
			nil, steps("green", 0.001, "red")),
		table("Build", "Exporter version per sensor.", 8, 5,
			map[string]string{"instance": "Sensor", "version": "Version", "revision": "Revision", "goversion": "Go", "Value": "Info"},
			qi(`max by (instance, version, revision, goversion) (netanomaly_build_info{instance=~"$instance"})`)),

		row("Packets"),
		timeseries("Packets received", "Packets per second received from the kernel or read from the file.", "pps", 12, 8,
			q("sum by (instance, interface) ("+m("interface:netanomaly_capture_packets_received:rate5m")+")", legendIface)),
		timeseries("Drops by stage", "Packets per second dropped before counting: kernel (ring full), interface (driver), queue (the exporter's queue full).", "pps", 12, 8,
			q("sum by (instance, interface, stage) ("+m("interface_stage:netanomaly_capture_packets_dropped:rate5m")+")", legendIface+" {{stage}}")),
		timeseries("Decode errors by layer", "Frames per second with a malformed header, by layer, and frames skipped for an unsupported link type.", "pps", 12, 8,
			q("sum by (instance, interface, layer) ("+m("interface_layer:netanomaly_decode_errors:rate5m")+")", legendIface+" {{layer}}"),
			q("sum by (instance, interface) ("+m("interface:netanomaly_decode_unsupported_link:rate5m")+")", legendIface+" unsupported link"),
		),
		timeseries("Window clock", "Empty windows skipped because the packet clock jumped ahead, and clock resets, in the last hour.", "short", 12, 8,
			q("sum by (instance, interface) ("+m("interface:netanomaly_window_gaps_skipped:increase1h")+")", legendIface+" gaps skipped"),
			q("sum by (instance, interface) ("+m("interface:netanomaly_window_clock_resets:increase1h")+")", legendIface+" clock resets"),
		),

		row("Processing"),
		timeseries("Processing time", "Seconds of work per second, the share of one core: feature aggregation and detector scoring.", "percentunit", 12, 8,
			q("sum by (instance, interface) ("+m("interface:netanomaly_feature_processing_seconds:rate1m")+")", legendIface+" features"),
			q("sum by (instance, interface) ("+m("interface:netanomaly_detector_scoring_seconds:rate5m")+")", legendIface+" scoring"),
		),
		withRange(timeseries("Flow table utilisation", "Active flows as a share of --flows.max; a full table evicts.", "percentunit", 12, 8,
			q("max by (instance, interface) ("+m("interface:netanomaly_flow_table_utilisation:ratio")+")", legendIface)), 0, 1),
		timeseries("Flows created and evicted", "Flows per second inserted into the flow table, and pushed out of a full one.", "short", 12, 8,
			q("sum by (instance, interface) ("+m("interface:netanomaly_flows_created:rate1m")+")", legendIface+" created"),
			q("sum by (instance, interface) ("+m("interface:netanomaly_flows_evicted:rate5m")+")", legendIface+" evicted"),
		),
		timeseries("Exporter series", "Series each exporter exposes: bounded by design, so growth means a bug.", "short", 12, 8,
			q(`count by (instance) ({__name__=~"netanomaly_.+", instance=~"$instance"})`, "{{instance}}")),
	)
}

// sensorUp selects whether Prometheus scrapes each selected sensor.
const sensorUp = `max by (site, instance) (up{job="netanomaly", instance=~"$instance"})`

// captureDown selects the selected captures that are down as
// NetAnomalyCaptureDown sees them: being reopened or failed. A capture file
// that ended or a capture paused through the admin API is no outage.
const captureDown = `netanomaly_capture_state{state=~"reopening|failed", ` + sel + `}`

// captureStateColors colours each state of netanomaly_capture_state; the
// capture state timeline codes the states 1, 2, ... in the collector's
// order (collector.CaptureStates; a test keeps the two in step).
var captureStateColors = map[string]string{
	"capturing": "green", "reopening": "orange", "paused": "blue", "finished": "purple", "failed": "red",
}

// captureStateCode is one series per selected interface whose value codes
// its current capture state, and the value mappings that name and colour
// the codes.
func captureStateCode() (string, []any) {
	var terms, pairs []string
	for i, st := range collector.CaptureStates {
		code := strconv.Itoa(i + 1)
		terms = append(terms, `(netanomaly_capture_state{state="`+st+`", `+sel+`} == 1) * `+code)
		pairs = append(pairs, code, st, captureStateColors[st])
	}
	return "max by (site, instance, interface) (\n    " + strings.Join(terms, "\n  or\n    ") + "\n)", valueMap(pairs...)
}

// colorNumbers colours a table's number cells by the panel's thresholds
// and mappings, leaving the label columns plain.
func colorNumbers(p panel, mappings []any, th *thresholds) panel {
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, override{
		Matcher: map[string]any{"id": "byType", "options": "number"},
		Properties: []map[string]any{
			{"id": "custom.cellOptions", "value": map[string]any{"type": "color-background"}},
			{"id": "color", "value": map[string]any{"mode": "thresholds"}},
			{"id": "mappings", "value": mappings},
			{"id": "thresholds", "value": th},
		},
	})
	return p
}

// fleetDashboard is the view over many sensors: which see attacks, which
// are down, how much each sees. Its queries group by site and instance: a
// global Prometheus gets every site's series with the site external label
// (prometheus/federation), and two sites may have sensors of one name; on a
// single Prometheus there is no site label and nothing changes. It reads
// only series that the federation config brings to the global Prometheus
// (a test checks), not the fleet recording rules, so it works on a site's
// Prometheus as well.
func fleetDashboard() dashboard {
	return newDashboard(FleetUID, "NetAnomaly / Fleet overview",
		"Every sensor at a glance: which see attacks, which are down, how much traffic each sees.", true,
		row("Fleet"),
		stat("Sensors", "Sensors that Prometheus scrapes (job netanomaly).", "short", 4, 5,
			q("count("+sensorUp+")", "sensors")),
		withMappings(stat("Sensors down", "Sensors not scraped, or with a capture source being reopened or failed (an ended file or a paused capture is no outage).", "short", 4, 5,
			q("count(\n  "+sensorUp+" == 0\n  or\n  max by (site, instance) ("+captureDown+") == 1\n) or vector(0)", "down")),
			nil, steps("green", 1.0, "red")),
		withMappings(stat("Sensors seeing attacks", "Sensors with at least one attack type active on a selected interface.", "short", 4, 5,
			q("count(max by (site, instance) ("+mWhole("netanomaly_attack")+") == 1) or vector(0)", "under attack")),
			nil, steps("green", 1.0, "red")),
		withMappings(stat("Firing alerts", "NetAnomaly alerts firing now on the selected sensors.", "short", 4, 5,
			q("count("+firingAlerts+") or vector(0)", "firing")),
			nil, steps("green", 1.0, "red")),
		stat("Packets/s", "Packets per second over the last minute, all selected sensors together.", "pps", 4, 5,
			q("sum("+m("interface:netanomaly_packets:rate1m")+")", "packets/s")),
		stat("Throughput", "Bits per second over the last minute, all selected sensors together.", "bps", 4, 5,
			q("sum("+m("interface:netanomaly_bytes:rate1m")+") * 8", "bits/s")),

		row("Which sensors are down"),
		colorNumbers(table("Sensor status", "Per sensor: whether Prometheus scrapes it, and whether its selected capture sources are up (Down: one is being reopened or failed).", 8, 8,
			map[string]string{"site": "Site", "instance": "Sensor", "Value #A": "Scraped", "Value #B": "Captures"},
			qi(sensorUp),
			qi("1 - max by (site, instance) ("+captureDown+")")),
			upMappings, upSteps),
		stateTimeline("Sensor availability", "When Prometheus could scrape each sensor.", 8, 8, upMappings,
			q(sensorUp, "{{instance}}")),
		func() panel {
			expr, mappings := captureStateCode()
			return stateTimeline("Capture state", "The state of each capture source: capturing, reopening (failed, being reopened), paused (through the admin API), finished (a capture file ended) or failed.", 8, 8,
				mappings, q(expr, legendIface))
		}(),

		row("Which sensors see attacks"),
		table("Attacks by sensor and type", "Attack types active now (on how many interfaces) or started in the last hour, per sensor.", 12, 9,
			map[string]string{"site": "Site", "instance": "Sensor", "type": "Attack", "Value #A": "Active now (interfaces)", "Value #B": "Started (1h)"},
			qi("sum by (site, instance, type) ("+mWhole("netanomaly_attack")+")\nand on (site, instance, type)\n(\n  sum by (site, instance, type) ("+mWhole("netanomaly_attack")+") > 0\n  or\n  sum by (site, instance, type) ("+mWhole("interface_group_type:netanomaly_attacks:increase1h")+") > 0\n)"),
			qi("round(sum by (site, instance, type) ("+mWhole("interface_group_type:netanomaly_attacks:increase1h")+")) > 0")),
		timeseries("Attacks in progress by type", "Interfaces under each attack type, all selected sensors together.", "short", 12, 9,
			q("sum by (type) ("+mWhole("netanomaly_attack")+") > 0", "{{type}}")),
		stateTimeline("Attack timeline by sensor", "When each sensor saw each attack type (one bar per sensor and type).", 24, 8,
			valueMap("1", "active", "red"),
			q("max by (site, instance, type) ("+mWhole("netanomaly_attack")+") > 0", "{{instance}} {{type}}")),
		stateTimeline("Threat level by sensor", "The highest threat level of each sensor's interfaces.", 24, 6, threatMappings,
			q("max by (site, instance) ("+m("netanomaly_threat_level")+")", "{{instance}}")),

		row("Traffic per sensor"),
		timeseries("Packets per sensor", "Packets per second each sensor sees, all its selected interfaces together.", "pps", 8, 8,
			q("sum by (site, instance) ("+m("interface:netanomaly_packets:rate1m")+")", "{{instance}}")),
		timeseries("Throughput per sensor", "Bits per second each sensor sees.", "bps", 8, 8,
			q("sum by (site, instance) ("+m("interface:netanomaly_bytes:rate1m")+") * 8", "{{instance}}")),
		withRange(timeseries("Drop ratio per sensor", "The worst share of packets dropped by the kernel ring or the exporter's queue among each sensor's interfaces (5m).", "percentunit", 8, 8,
			q("max by (site, instance) ("+m("interface:netanomaly_capture_packets_dropped:ratio_rate5m")+")", "{{instance}}")), 0, 1),
	)
}
