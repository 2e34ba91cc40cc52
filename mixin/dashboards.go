package mixin

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/gauge"
	"github.com/grafana/grafana-foundation-sdk/go/geomap"
	"github.com/grafana/grafana-foundation-sdk/go/nodegraph"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
)

// FleetUID is the uid of the fleet overview dashboard, the first to open
// over many sensors (a global Prometheus, Thanos or Mimir).
const FleetUID = "netanomaly-fleet"

// DatasourceUID is the uid of the Prometheus data source that
// grafana/provisioning/datasources/prometheus.yml provisions; the
// dashboards' datasource variable defaults to it.
const DatasourceUID = "netanomaly-prometheus"

// schemaVersion is the dashboard schema version the generated files carry.
// The SDK writes its own latest (42), newer than Grafana 11's and 12.0's
// (41); Grafana migrates only upwards, and 12.0's backend migration
// reports a newer version as a failed conversion. The dashboards use
// nothing that versions 40 to 42 changed (a non-string refresh,
// timepicker.time_options, custom.hideFrom overrides), so Grafana 11 reads
// 39 as it is and Grafana 12 migrates it without a change.
const schemaVersion = 39

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
	for name, d := range map[string]dashboard.Dashboard{
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

// The dashboards are built with Grafana's Foundation SDK
// (grafana-foundation-sdk/go): its builders write the dashboard JSON model
// with the defaults Grafana itself fills in. Struct fields marshal in a
// fixed order and maps sorted, so the output is stable.

var promDS = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// steps builds threshold steps: a base colour, then value, colour pairs.
func steps(base string, rest ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(rest); i += 2 {
		s = append(s, dashboard.Threshold{Color: rest[i+1].(string), Value: cog.ToPtr(rest[i].(float64))})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

// valueMap maps exact values to a text and colour, in order.
func valueMap(pairs ...string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i := 0; i+2 < len(pairs); i += 3 {
		opts[pairs[i]] = dashboard.ValueMappingResult{Text: &pairs[i+1], Color: &pairs[i+2], Index: cog.ToPtr(int32(i / 3))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// colorMode is a field colour scheme.
func colorMode(mode dashboard.FieldColorModeId) *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(mode)
}

// Query helpers: q for a time series, qi for an instant table query.
func q(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(promDS).Expr(expr).LegendFormat(legend).Range()
}

func qi(expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(promDS).Expr(expr).Instant().Format(prometheus.PromQueryFormatTable)
}

// refIDs names a panel's queries A, B, C...
func refIDs(targets ...*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(targets))
	for i, t := range targets {
		out[i] = t.RefId(string(rune('A' + i)))
	}
	return out
}

const (
	legendIface = "{{instance}} {{interface}}"
	// legendView names a view: an interface, or one of its host groups.
	legendView = "{{instance}} {{interface}} {{group}}"
)

// lastValue reduces a series to its last value (stat, gauge, pie chart).
func lastValue() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("").Values(false)
}

// organize drops the time column of instant queries and renames columns.
func organize(rename map[string]string) dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
		"excludeByName": map[string]any{"Time": true},
		"renameByName":  rename,
	}}
}

// Panel builders. Sizes are in grid units (24 wide).

func timeseriesPanel(title, desc, unit string, w, h uint32, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).Description(desc).Span(w).Height(h).
		Datasource(promDS).Targets(refIDs(targets...)).
		Unit(unit).ColorScheme(colorMode(dashboard.FieldColorModeIdPaletteClassic)).
		DrawStyle(common.GraphDrawStyleLine).LineWidth(1).FillOpacity(10).ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).AxisSoftMin(0).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementBottom).
			ShowLegend(true).Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

func statPanel(title, desc, unit string, w, h uint32, t *prometheus.DataqueryBuilder) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(title).Description(desc).Span(w).Height(h).
		Datasource(promDS).Targets(refIDs(t)).
		ColorScheme(colorMode(dashboard.FieldColorModeIdThresholds)).Thresholds(steps("green")).
		ReduceOptions(lastValue()).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).
		JustifyMode(common.BigValueJustifyModeAuto).Orientation(common.VizOrientationAuto).
		TextMode(common.BigValueTextModeValueAndName).WideLayout(true)
	if unit != "" {
		p.Unit(unit)
	}
	return p
}

// topExplained is metric of the three features of each view furthest
// from their baseline: the explanation series are one per feature, so the
// ranking is topk's, by absolute z-score.
func topExplained(metric string) string {
	by := "max by (instance, interface, group, feature) ("
	return by + m(metric) + ") and on (instance, interface, group, feature) " +
		"topk by (instance, interface, group) (3, abs(" + by + m("netanomaly_explanation_zscore") + ")))"
}

func tablePanel(title, desc string, w, h uint32, rename map[string]string, targets ...*prometheus.DataqueryBuilder) *table.PanelBuilder {
	p := table.NewPanelBuilder().
		Title(title).Description(desc).Span(w).Height(h).
		Datasource(promDS).Targets(refIDs(targets...)).
		Align(common.FieldTextAlignmentAuto).Filterable(true).
		ShowHeader(true).CellHeight(common.TableCellHeightSm).
		// An empty reducer list rather than the SDK's null.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}).CountRows(false))
	if len(targets) > 1 {
		p.WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}})
	}
	return p.WithTransformation(organize(rename))
}

func stateTimelinePanel(title, desc string, w, h uint32, mappings []dashboard.ValueMapping, t *prometheus.DataqueryBuilder) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Title(title).Description(desc).Span(w).Height(h).
		Datasource(promDS).Targets(refIDs(t)).
		ColorScheme(colorMode(dashboard.FieldColorModeIdThresholds)).Thresholds(steps("green")).
		Mappings(mappings).FillOpacity(80).LineWidth(0).
		MergeValues(true).ShowValue(common.VisibilityModeNever).AlignValue(common.TimelineValueAlignmentLeft).RowHeight(0.9).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(false)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
}

// section is a row and the panels under it. The SDK places the panels left
// to right and starts a new line when one fills the grid's width, so each
// line's widths add up to 24 (TestDashboards rejects a panel past the edge).
type section struct {
	title  string
	panels []cog.Builder[dashboard.Panel]
}

func row(title string, panels ...cog.Builder[dashboard.Panel]) section {
	return section{title: title, panels: panels}
}

func newDashboard(uid, title, desc string, withAlertAnnotations bool, sections ...section) dashboard.Dashboard {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).Description(desc).Tags([]string{"netanomaly"}).
		Readonly().Tooltip(dashboard.DashboardCursorSyncCrosshair).Refresh("10s").
		Time("now-1h", "now").Timezone("browser").
		Link(dashboard.NewDashboardLinkBuilder("NetAnomaly").
			Type(dashboard.DashboardLinkTypeDashboards).Tags([]string{"netanomaly"}).
			AsDropdown(false).IncludeVars(true).KeepTime(true)).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Annotations & Alerts").BuiltIn(1).Type("dashboard").
			Datasource(common.DataSourceRef{Type: cog.ToPtr("grafana"), Uid: cog.ToPtr("-- Grafana --")}).
			Enable(true).Hide(true).IconColor("rgba(0, 211, 255, 1)"))
	if withAlertAnnotations {
		b.Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Detection alerts").Datasource(promDS).Enable(true).Hide(false).IconColor("red").
			Expr(`max by (alertname, severity, attack_type, instance, interface) (ALERTS{alertstate="firing", attack_type=~".+", ` + sel + `})`).
			Step("10s").
			TitleFormat("{{alertname}} ({{severity}})").
			TextFormat("{{attack_type}} on {{interface}} at {{instance}}").
			TagKeys("attack_type,severity"))
	}
	b.WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Data source").Type("prometheus").
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr("Prometheus")},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(DatasourceUID)},
		}).
		Multi(false).IncludeAll(false).Regex("").Hide(dashboard.VariableHideDontHide))
	b.WithVariable(queryVariable("instance", "Sensor", "label_values(netanomaly_build_info, instance)"))
	b.WithVariable(queryVariable("interface", "Interface", `label_values(netanomaly_capture_up{instance=~"$instance"}, interface)`))
	for _, s := range sections {
		b.WithRow(dashboard.NewRowBuilder(s.title))
		for _, p := range s.panels {
			b.WithPanel(p)
		}
	}
	d, err := b.Build()
	if err != nil {
		panic(fmt.Sprintf("dashboard %s: %v", uid, err))
	}
	d.SchemaVersion = schemaVersion
	// Panels are numbered in order, rows included.
	for i, p := range d.Panels {
		id := uint32(i + 1)
		if p.RowPanel != nil {
			p.RowPanel.Id = id
		} else {
			p.Panel.Id = &id
		}
	}
	// The SDK's datasource variable builder has no refresh and sort; keep
	// what Grafana writes for one.
	for i := range d.Templating.List {
		if v := &d.Templating.List[i]; v.Type == dashboard.VariableTypeDatasource {
			v.Refresh = cog.ToPtr(dashboard.VariableRefreshOnDashboardLoad)
			v.Sort = cog.ToPtr(dashboard.VariableSortDisabled)
		}
	}
	// The SDK places links and annotation toggles in the controls menu, a
	// placement of newer Grafana versions; without one they stay above the
	// panels, where Grafana 11 and 12.0 show them.
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	for i := range d.Annotations.List {
		d.Annotations.List[i].Placement = nil
	}
	return d
}

// queryVariable is a multi-value variable with All, which matches any
// value (.+) rather than listing every sensor in the query.
func queryVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).Datasource(promDS).
		Query(dashboard.StringOrMap{Map: map[string]any{"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1}}).
		Definition(query).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		}).
		Multi(true).IncludeAll(true).AllValue(".+").
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Regex("").Hide(dashboard.VariableHideDontHide)
}

// dashedLine draws a series as a dashed line (the threshold under a score).
var dashedLine = []dashboard.DynamicConfigValue{
	{Id: "custom.lineStyle", Value: common.LineStyle{Fill: cog.ToPtr(common.LineStyleFillDash), Dash: []float64{10, 10}}},
	{Id: "custom.fillOpacity", Value: 0},
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

func overviewDashboard() dashboard.Dashboard {
	return newDashboard(OverviewUID, "NetAnomaly / Overview",
		"Detection status, attacks and traffic per sensor and interface.", true,
		row("Status",
			statPanel("Status", "Whether the last window of each interface was anomalous.", "", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_anomalous")+")", legendView)).
				Mappings(valueMap("0", "Normal", "green", "1", "Anomalous", "red")).Thresholds(steps("green", 1.0, "red")),
			statPanel("Threat level", "Threat level of the last window: none, low, medium, high.", "", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_threat_level")+")", legendView)).
				Mappings(threatMappings).Thresholds(threatSteps),
			statPanel("Confidence", "Confidence of the last verdict.", "percentunit", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_confidence")+")", legendView)).
				Min(0).Max(1),
			statPanel("Active attacks", "Attack types active now, per interface.", "", 4, 5,
				q("sum by (instance, interface, group) ("+m("netanomaly_attack")+")", legendView)).
				Thresholds(steps("green", 1.0, "red")),
			statPanel("Capture", "Whether each capture source is open.", "", 4, 5,
				q("min by (instance, interface) ("+m("netanomaly_capture_up")+")", legendIface)).
				Mappings(upMappings).Thresholds(upSteps),
			statPanel("Firing alerts", "NetAnomaly alerts firing now on the selected sensors.", "", 4, 5,
				q("count("+firingAlerts+") or vector(0)", "firing")).
				Thresholds(steps("green", 1.0, "red")),
		),

		row("Detection",
			timeseriesPanel("Anomaly score", "Ensemble score of each window (solid) and the threshold above which a window is anomalous (dashed).", "none", 12, 9,
				q("max by (instance, interface, group) ("+m("netanomaly_anomaly_score")+")", legendView+" score"),
				q("max by (instance, interface, group) ("+m("netanomaly_anomaly_threshold")+")", legendView+" threshold"),
			).Min(0).Max(1).OverrideByRegexp(".*threshold$", dashedLine),
			tablePanel("Active attacks", "Attack types active now and their confidence.", 12, 9,
				map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "type": "Attack", "Value": "Confidence"},
				qi("max by (instance, interface, group, type) ("+m("netanomaly_attack_confidence")+")\nand on (instance, interface, group, type)\n(max by (instance, interface, group, type) ("+m("netanomaly_attack")+") == 1)")),
			tablePanel("Firing alerts", "NetAnomaly alerts firing now (from the ALERTS series of Prometheus).", 24, 6,
				map[string]string{"alertname": "Alert", "severity": "Severity", "attack_type": "Attack", "instance": "Sensor", "interface": "Interface", "Value": "Firing"},
				qi("max by (alertname, severity, attack_type, instance, interface) ("+firingAlerts+")")),
		),

		row("Traffic",
			statPanel("Packets/s", "Packets per second over the last minute.", "pps", 4, 5,
				q("sum by (instance, interface) ("+m("interface:netanomaly_packets:rate1m")+")", legendIface)),
			statPanel("Throughput", "Bits per second over the last minute.", "bps", 4, 5,
				q("sum by (instance, interface) ("+m("interface:netanomaly_bytes:rate1m")+") * 8", legendIface)),
			statPanel("Unique sources", "Distinct source addresses in the last window.", "short", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_window_unique_source_addresses_per_window")+")", legendView)),
			statPanel("Unique destinations", "Distinct destination addresses in the last window.", "short", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_window_unique_destination_addresses_per_window")+")", legendView)),
			statPanel("Destination ports", "Distinct TCP and UDP destination ports in the last window.", "short", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_window_unique_destination_ports_per_window")+")", legendView)),
			statPanel("New flows/s", "Flows first seen in the last window, per second.", "short", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_window_new_flows_per_second")+")", legendView)),
			timeseriesPanel("Traffic by protocol", "Bits per second by outer layer-4 protocol.", "bps", 12, 9,
				q("sum by (instance, interface, protocol) ("+m("interface_protocol:netanomaly_bytes:rate1m")+") * 8", legendIface+" {{protocol}}")),
			timeseriesPanel("Packets by protocol", "Packets per second by outer layer-4 protocol.", "pps", 12, 9,
				q("sum by (instance, interface, protocol) ("+m("interface_protocol:netanomaly_packets:rate1m")+")", legendIface+" {{protocol}}")),
			protocolPie(),
			timeseriesPanel("Traffic by application", "Bits per second by application, guessed from well-known ports (applications with traffic only).", "bps", 16, 9,
				q("sum by (instance, interface, app) ("+m("interface_app:netanomaly_app_bytes:rate1m")+") * 8 > 0", legendIface+" {{app}}")),
		),

		row("Top talkers",
			tablePanel("Top sources", "Busiest sources by bytes in the last window. Needs --features.top-k; addresses follow --privacy.ip.", 8, 8,
				map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "rank": "Rank", "address": "Address", "Value": "Bytes"},
				qi("max by (instance, interface, group, rank, address) ("+m("netanomaly_top_source_bytes")+")")),
			tablePanel("Top destinations", "Busiest destinations by bytes in the last window. Needs --features.top-k.", 8, 8,
				map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "rank": "Rank", "address": "Address", "Value": "Bytes"},
				qi("max by (instance, interface, group, rank, address) ("+m("netanomaly_top_destination_bytes")+")")),
			tablePanel("Attack sources", "Top sources of each active attack, when the detector exports them.", 8, 8,
				map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "type": "Attack", "rank": "Rank", "address": "Address", "Value": "Active"},
				qi("max by (instance, interface, group, type, rank, address) ("+m("netanomaly_attack_source_info")+")")),
		),

		row("Where traffic comes from",
			countryMap(),
			tablePanel("Attack source countries", "Countries of the named sources of each active attack (needs --geoip.database).", 8, 10,
				map[string]string{"instance": "Sensor", "interface": "Interface", "group": "Group", "type": "Attack", "country": "Country", "Value": "Active"},
				qi("max by (instance, interface, group, type, country) ("+m("netanomaly_attack_source_country_info")+")")),
			attackPaths(),
			conversations(),
		),
	)
}

// protocolPie is the share of bytes by protocol over the dashboard's time
// range: one instant query, the average rate over $__range.
func protocolPie() *piechart.PanelBuilder {
	t := prometheus.NewDataqueryBuilder().Datasource(promDS).
		Expr("sum by (protocol) (avg_over_time(" + m("interface_protocol:netanomaly_bytes:rate1m") + "[$__range]))").
		LegendFormat("{{protocol}}").Instant()
	return piechart.NewPanelBuilder().
		Title("Protocol distribution").Description("Share of bytes by protocol over the dashboard's time range, all selected interfaces together.").
		Span(8).Height(9).Datasource(promDS).Targets(refIDs(t)).
		Unit("Bps").ColorScheme(colorMode(dashboard.FieldColorModeIdPaletteClassic)).
		PieType(piechart.PieChartTypeDonut).DisplayLabels([]piechart.PieChartLabels{piechart.PieChartLabelsName}).
		ReduceOptions(lastValue()).Orientation(common.VizOrientationAuto).
		Legend(piechart.NewPieChartLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).ShowLegend(true).
			Values([]piechart.PieChartLegendValues{piechart.PieChartLegendValuesPercent})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
}

// nodeGraph is a node graph of two instant queries: a frame with an id
// field (the nodes) and one with source and target fields (the edges);
// mainstat names the field shown on each edge.
func nodeGraph(title, desc string, w, h uint32, mainstat string, nodes, edges *prometheus.DataqueryBuilder) *nodegraph.PanelBuilder {
	return nodegraph.NewPanelBuilder().
		Title(title).Description(desc).Span(w).Height(h).
		Datasource(promDS).Targets(refIDs(nodes, edges)).
		Nodes(nodegraph.NewNodeOptionsBuilder().MainStatUnit("none")).
		Edges(nodegraph.NewEdgeOptionsBuilder().MainStatUnit("none")).
		WithTransformation(organize(map[string]string{mainstat: "mainstat"}))
}

// conversations is a node graph of the busiest conversations (initiator
// to responder) at the last window's close, from the top-k series.
func conversations() *nodegraph.PanelBuilder {
	pairs := m("netanomaly_top_pair_packets")
	return nodeGraph("Busiest conversations",
		"The busiest conversations, initiator to responder, by the packets of their flows open at the last window's close (needs --features.top-k; addresses follow --privacy.ip).",
		24, 10, "Value",
		qi("max by (id) (label_replace("+pairs+`, "id", "$1", "source", "(.*)"))`+
			"\nor\nmax by (id) (label_replace("+pairs+`, "id", "$1", "destination", "(.*)"))`),
		qi("max by (id, source, target) (label_replace(label_join("+pairs+`, "id", " -> ", "source", "destination"), "target", "$1", "destination", "(.*)"))`))
}

// countryMap is a world map of packets per second by source country
// (--geoip.database), circles placed by ISO code with Grafana's own
// country gazetteer.
func countryMap() *geomap.PanelBuilder {
	t := qi("sum by (country) (rate(" + m("netanomaly_country_packets_total") + "[$__rate_interval]))")
	return geomap.NewPanelBuilder().
		Title("Packets/s by source country").
		Description("Where the selected interfaces' traffic comes from: packets per second by source country over the last minutes (needs --geoip.database). unknown (private addresses) and other (countries never in a window's top 20) have no place on the map.").
		Span(8).Height(10).Datasource(promDS).Targets(refIDs(t)).
		Unit("pps").ColorScheme(colorMode(dashboard.FieldColorModeIdContinuousGrYlRd)).
		View(geomap.NewMapViewConfigBuilder().Id("zero").Lat(0).Lon(0).Zoom(1)).
		Controls(geomap.NewControlsOptionsBuilder().ShowZoom(true).MouseWheelZoom(false).ShowAttribution(true)).
		Basemap(common.NewMapLayerOptionsBuilder().Type("default").Name("Basemap")).
		Layers([]cog.Builder[common.MapLayerOptions]{common.NewMapLayerOptionsBuilder().
			Type("markers").Name("Countries").
			Location(common.NewFrameGeometrySourceBuilder().
				Mode(common.FrameGeometrySourceModeLookup).Lookup("country").Gazetteer("public/gazetteer/countries.json")).
			// The markers layer's options are the layer's own: the SDK
			// takes them as they are.
			Config(map[string]any{
				"showLegend": true,
				"style": map[string]any{
					"size":    map[string]any{"field": "Value", "fixed": 5, "min": 4, "max": 30},
					"color":   map[string]any{"field": "Value"},
					"opacity": 0.5,
				},
			})}).
		Tooltip(geomap.NewTooltipOptionsBuilder().Mode(geomap.TooltipModeDetails))
}

// attackPaths is a node graph of the attacks in progress: an edge from
// each top source to each top target (--detector.attack-sources), the
// attack type on each edge.
func attackPaths() *nodegraph.PanelBuilder {
	paths := m("netanomaly_attack_path_info")
	return nodeGraph("Attack paths",
		"Attacks in progress, from their top sources to their top targets, the attack type on each edge. Needs --detector.attack-sources; addresses follow --privacy.ip.",
		8, 10, "type",
		qi("max by (id) (label_replace("+paths+`, "id", "$1", "source", "(.*)"))`+
			"\nor\nmax by (id) (label_replace("+paths+`, "id", "$1", "target", "(.*)"))`),
		qi("max by (id, source, target, type) (label_join("+paths+`, "id", " -> ", "source", "target"))`))
}

func detectorDashboard() dashboard.Dashboard {
	return newDashboard(DetectorUID, "NetAnomaly / Detector",
		"Model scores, attack timeline, explanations and training state of the detector.", true,
		row("Scores",
			timeseriesPanel("Model scores", "Calibrated score of each ensemble member, the ensemble score and its threshold (dashed).", "none", 16, 9,
				q("max by (instance, interface, group, model) ("+m("netanomaly_model_score")+")", legendView+" {{model}}"),
				q("max by (instance, interface, group) ("+m("netanomaly_anomaly_score")+")", legendView+" ensemble"),
				q("max by (instance, interface, group) ("+m("netanomaly_anomaly_threshold")+")", legendView+" threshold"),
			).Min(0).Max(1).OverrideByRegexp(".*threshold$", dashedLine),
			timeseriesPanel("Confidence", "Confidence of each window's verdict.", "percentunit", 8, 9,
				q("max by (instance, interface, group) ("+m("netanomaly_confidence")+")", legendView)).
				Min(0).Max(1),
			stateTimelinePanel("Threat level", "Threat level of each window.", 24, 5, threatMappings,
				q("max by (instance, interface, group) ("+m("netanomaly_threat_level")+")", legendView)),
		),

		row("Attacks",
			stateTimelinePanel("Attack timeline", "When each attack type was active (one bar per attack).", 24, 8,
				valueMap("1", "active", "red"),
				q("max by (instance, interface, group, type) ("+m("netanomaly_attack")+") > 0", legendView+" {{type}}")),
			timeseriesPanel("Anomalous windows by type", "Anomalous windows in the last hour, by attack type (unknown: no type named).", "short", 12, 8,
				q("sum by (instance, interface, group, type) ("+m("interface_group_type:netanomaly_anomalies:increase1h")+") > 0", legendView+" {{type}}")),
			timeseriesPanel("Attacks started", "Attacks started in the last hour, by type.", "short", 12, 8,
				q("sum by (instance, interface, group, type) ("+m("interface_group_type:netanomaly_attacks:increase1h")+") > 0", legendView+" {{type}}")),
		),

		row("Explanation",
			tablePanel("Top features of the last anomalous window", "The three features furthest from their expected range (largest absolute robust z-score) of each view, with their value and the expected range.", 24, 8,
				map[string]string{
					"instance": "Sensor", "interface": "Interface", "group": "Group", "feature": "Feature",
					"Value #A": "z-score", "Value #B": "Value", "Value #C": "Expected low", "Value #D": "Expected high",
				},
				qi(topExplained("netanomaly_explanation_zscore")),
				qi(topExplained("netanomaly_explanation_value")),
				qi(topExplained("netanomaly_explanation_expected_low")),
				qi(topExplained("netanomaly_explanation_expected_high")),
			).SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("z-score").Desc(true)}),
		),

		row("Training",
			statPanel("Trained", "Whether the detector has finished its warm-up.", "", 4, 5,
				q("min by (instance, interface, group) ("+m("netanomaly_detector_trained")+")", legendView)).
				Mappings(valueMap("0", "Warming up", "orange", "1", "Trained", "green")).Thresholds(steps("orange", 1.0, "green")),
			gauge.NewPanelBuilder().
				Title("Warm-up progress").Description("Share of the warm-up done.").Span(4).Height(5).
				Datasource(promDS).Targets(refIDs(q("max by (instance, interface, group) ("+m("netanomaly_detector_warmup_progress")+")", legendView))).
				Unit("percentunit").ColorScheme(colorMode(dashboard.FieldColorModeIdThresholds)).
				Thresholds(steps("orange", 1.0, "green")).Min(0).Max(1).
				ReduceOptions(lastValue()).ShowThresholdLabels(false).ShowThresholdMarkers(true).
				Orientation(common.VizOrientationAuto),
			statPanel("Training windows", "Windows the current model was trained on.", "short", 4, 5,
				q("max by (instance, interface, group) ("+m("netanomaly_detector_training_windows")+")", legendView)),
			statPanel("Model age", "Time since the last (re)training.", "s", 4, 5,
				q("time() - max by (instance, interface, group) ("+m("netanomaly_detector_last_train_timestamp_seconds")+" > 0)", legendView)).
				Thresholds(steps("green", 43200.0, "yellow", 86400.0, "red")),
			statPanel("Retrains (24h)", "Retrainings in the last 24 hours.", "short", 4, 5,
				q("sum by (instance, interface) ("+m("interface:netanomaly_detector_retrains:increase1d")+")", legendIface)),
			statPanel("Model file", "Whether the model file loaded (per sensor).", "", 4, 5,
				q(`min by (instance) (netanomaly_detector_model_load_success{instance=~"$instance"})`, "{{instance}}")).
				Mappings(valueMap("0", "Failed", "red", "1", "Loaded", "green")).Thresholds(steps("red", 1.0, "green")),
			timeseriesPanel("Scoring time", "Seconds spent scoring per second: the share of one core.", "percentunit", 24, 7,
				q("sum by (instance, interface) ("+m("interface:netanomaly_detector_scoring_seconds:rate5m")+")", legendIface)),
		),
	)
}

func captureDashboard() dashboard.Dashboard {
	return newDashboard(CaptureUID, "NetAnomaly / Capture health",
		"Capture sources, drops, decode errors, processing time and flow table of each sensor.", false,
		row("Status",
			statPanel("Exporter", "Whether Prometheus scrapes each exporter (job netanomaly).", "", 4, 5,
				q(`max by (instance) (up{job="netanomaly", instance=~"$instance"})`, "{{instance}}")).
				Mappings(upMappings).Thresholds(upSteps),
			statPanel("Capture", "Whether each capture source is open.", "", 4, 5,
				q("min by (instance, interface) ("+m("netanomaly_capture_up")+")", legendIface)).
				Mappings(upMappings).Thresholds(upSteps),
			statPanel("Reopens (1h)", "Times a failed capture source was reopened in the last hour.", "short", 4, 5,
				q("sum by (instance, interface) ("+m("interface:netanomaly_capture_reopens:increase1h")+")", legendIface)).
				Thresholds(steps("green", 1.0, "orange")),
			statPanel("Drop ratio", "Packets dropped by the kernel ring or the exporter's queue, as a share of those received (5m). NetAnomalyCaptureDropping fires above 0.1%.", "percentunit", 4, 5,
				q("max by (instance, interface) ("+m("interface:netanomaly_capture_packets_dropped:ratio_rate5m")+")", legendIface)).
				Thresholds(steps("green", 0.001, "red")),
			tablePanel("Build", "Exporter version per sensor.", 8, 5,
				map[string]string{"instance": "Sensor", "version": "Version", "revision": "Revision", "goversion": "Go", "Value": "Info"},
				qi(`max by (instance, version, revision, goversion) (netanomaly_build_info{instance=~"$instance"})`)),
		),

		row("Packets",
			timeseriesPanel("Packets received", "Packets per second received from the kernel or read from the file.", "pps", 12, 8,
				q("sum by (instance, interface) ("+m("interface:netanomaly_capture_packets_received:rate5m")+")", legendIface)),
			timeseriesPanel("Drops by stage", "Packets per second dropped before counting: kernel (ring full), interface (driver), queue (the exporter's queue full).", "pps", 12, 8,
				q("sum by (instance, interface, stage) ("+m("interface_stage:netanomaly_capture_packets_dropped:rate5m")+")", legendIface+" {{stage}}")),
			timeseriesPanel("Decode errors by layer", "Frames per second with a malformed header, by layer, and frames skipped for an unsupported link type.", "pps", 12, 8,
				q("sum by (instance, interface, layer) ("+m("interface_layer:netanomaly_decode_errors:rate5m")+")", legendIface+" {{layer}}"),
				q("sum by (instance, interface) ("+m("interface:netanomaly_decode_unsupported_link:rate5m")+")", legendIface+" unsupported link"),
			),
			timeseriesPanel("Window clock", "Empty windows skipped because the packet clock jumped ahead, and clock resets, in the last hour.", "short", 12, 8,
				q("sum by (instance, interface) ("+m("interface:netanomaly_window_gaps_skipped:increase1h")+")", legendIface+" gaps skipped"),
				q("sum by (instance, interface) ("+m("interface:netanomaly_window_clock_resets:increase1h")+")", legendIface+" clock resets"),
			),
		),

		row("Processing",
			timeseriesPanel("Processing time", "Seconds of work per second, the share of one core: feature aggregation and detector scoring.", "percentunit", 12, 8,
				q("sum by (instance, interface) ("+m("interface:netanomaly_feature_processing_seconds:rate1m")+")", legendIface+" features"),
				q("sum by (instance, interface) ("+m("interface:netanomaly_detector_scoring_seconds:rate5m")+")", legendIface+" scoring"),
			),
			timeseriesPanel("Flow table utilisation", "Active flows as a share of --flows.max; a full table evicts.", "percentunit", 12, 8,
				q("max by (instance, interface) ("+m("interface:netanomaly_flow_table_utilisation:ratio")+")", legendIface)).
				Min(0).Max(1),
			timeseriesPanel("Flows created and evicted", "Flows per second inserted into the flow table, and pushed out of a full one.", "short", 12, 8,
				q("sum by (instance, interface) ("+m("interface:netanomaly_flows_created:rate1m")+")", legendIface+" created"),
				q("sum by (instance, interface) ("+m("interface:netanomaly_flows_evicted:rate5m")+")", legendIface+" evicted"),
			),
			timeseriesPanel("Exporter series", "Series each exporter exposes: bounded by design, so growth means a bug.", "short", 12, 8,
				q(`count by (instance) ({__name__=~"netanomaly_.+", instance=~"$instance"})`, "{{instance}}")),
		),
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
// order (pipeline.CaptureStates; a test keeps the two in step).
var captureStateColors = map[string]string{
	"capturing": "green", "reopening": "orange", "paused": "blue", "finished": "purple", "failed": "red",
}

// captureStateCode is one series per selected interface whose value codes
// its current capture state, and the value mappings that name and colour
// the codes.
func captureStateCode() (string, []dashboard.ValueMapping) {
	var terms, pairs []string
	for i, st := range pipeline.CaptureStates {
		code := strconv.Itoa(i + 1)
		terms = append(terms, `(netanomaly_capture_state{state="`+st+`", `+sel+`} == 1) * `+code)
		pairs = append(pairs, code, st, captureStateColors[st])
	}
	return "max by (site, instance, interface) (\n    " + strings.Join(terms, "\n  or\n    ") + "\n)", valueMap(pairs...)
}

// colorNumbers colours a table's number cells by the given thresholds and
// mappings, leaving the label columns plain.
func colorNumbers(mappings []dashboard.ValueMapping, th *dashboard.ThresholdsConfigBuilder) []dashboard.DynamicConfigValue {
	thresholds, err := th.Build()
	if err != nil {
		panic(err)
	}
	return []dashboard.DynamicConfigValue{
		{Id: "custom.cellOptions", Value: common.NewTableColoredBackgroundCellOptions()},
		{Id: "color", Value: dashboard.FieldColor{Mode: dashboard.FieldColorModeIdThresholds}},
		{Id: "mappings", Value: mappings},
		{Id: "thresholds", Value: thresholds},
	}
}

// fleetDashboard is the view over many sensors: which see attacks, which
// are down, how much each sees. Its queries group by site and instance: a
// global Prometheus gets every site's series with the site external label
// (prometheus/federation), and two sites may have sensors of one name; on a
// single Prometheus there is no site label and nothing changes. It reads
// only series that the federation config brings to the global Prometheus
// (a test checks), not the fleet recording rules, so it works on a site's
// Prometheus as well.
func fleetDashboard() dashboard.Dashboard {
	captureState, captureStateMappings := captureStateCode()
	return newDashboard(FleetUID, "NetAnomaly / Fleet overview",
		"Every sensor at a glance: which see attacks, which are down, how much traffic each sees.", true,
		row("Fleet",
			statPanel("Sensors", "Sensors that Prometheus scrapes (job netanomaly).", "short", 4, 5,
				q("count("+sensorUp+")", "sensors")),
			statPanel("Sensors down", "Sensors not scraped, or with a capture source being reopened or failed (an ended file or a paused capture is no outage).", "short", 4, 5,
				q("count(\n  "+sensorUp+" == 0\n  or\n  max by (site, instance) ("+captureDown+") == 1\n) or vector(0)", "down")).
				Thresholds(steps("green", 1.0, "red")),
			statPanel("Sensors seeing attacks", "Sensors with at least one attack type active on a selected interface.", "short", 4, 5,
				q("count(max by (site, instance) ("+mWhole("netanomaly_attack")+") == 1) or vector(0)", "under attack")).
				Thresholds(steps("green", 1.0, "red")),
			statPanel("Firing alerts", "NetAnomaly alerts firing now on the selected sensors.", "short", 4, 5,
				q("count("+firingAlerts+") or vector(0)", "firing")).
				Thresholds(steps("green", 1.0, "red")),
			statPanel("Packets/s", "Packets per second over the last minute, all selected sensors together.", "pps", 4, 5,
				q("sum("+m("interface:netanomaly_packets:rate1m")+")", "packets/s")),
			statPanel("Throughput", "Bits per second over the last minute, all selected sensors together.", "bps", 4, 5,
				q("sum("+m("interface:netanomaly_bytes:rate1m")+") * 8", "bits/s")),
		),

		row("Which sensors are down",
			tablePanel("Sensor status", "Per sensor: whether Prometheus scrapes it, and whether its selected capture sources are up (Down: one is being reopened or failed).", 8, 8,
				map[string]string{"site": "Site", "instance": "Sensor", "Value #A": "Scraped", "Value #B": "Captures"},
				qi(sensorUp),
				qi("1 - max by (site, instance) ("+captureDown+")")).
				OverrideByFieldType("number", colorNumbers(upMappings, upSteps)),
			stateTimelinePanel("Sensor availability", "When Prometheus could scrape each sensor.", 8, 8, upMappings,
				q(sensorUp, "{{instance}}")),
			stateTimelinePanel("Capture state", "The state of each capture source: capturing, reopening (failed, being reopened), paused (through the admin API), finished (a capture file ended) or failed.", 8, 8,
				captureStateMappings, q(captureState, legendIface)),
		),

		row("Which sensors see attacks",
			tablePanel("Attacks by sensor and type", "Attack types active now (on how many interfaces) or started in the last hour, per sensor.", 12, 9,
				map[string]string{"site": "Site", "instance": "Sensor", "type": "Attack", "Value #A": "Active now (interfaces)", "Value #B": "Started (1h)"},
				qi("sum by (site, instance, type) ("+mWhole("netanomaly_attack")+")\nand on (site, instance, type)\n(\n  sum by (site, instance, type) ("+mWhole("netanomaly_attack")+") > 0\n  or\n  sum by (site, instance, type) ("+mWhole("interface_group_type:netanomaly_attacks:increase1h")+") > 0\n)"),
				qi("round(sum by (site, instance, type) ("+mWhole("interface_group_type:netanomaly_attacks:increase1h")+")) > 0")),
			timeseriesPanel("Attacks in progress by type", "Interfaces under each attack type, all selected sensors together.", "short", 12, 9,
				q("sum by (type) ("+mWhole("netanomaly_attack")+") > 0", "{{type}}")),
			stateTimelinePanel("Attack timeline by sensor", "When each sensor saw each attack type (one bar per sensor and type).", 24, 8,
				valueMap("1", "active", "red"),
				q("max by (site, instance, type) ("+mWhole("netanomaly_attack")+") > 0", "{{instance}} {{type}}")),
			stateTimelinePanel("Threat level by sensor", "The highest threat level of each sensor's interfaces.", 24, 6, threatMappings,
				q("max by (site, instance) ("+m("netanomaly_threat_level")+")", "{{instance}}")),
		),

		row("Traffic per sensor",
			timeseriesPanel("Packets per sensor", "Packets per second each sensor sees, all its selected interfaces together.", "pps", 8, 8,
				q("sum by (site, instance) ("+m("interface:netanomaly_packets:rate1m")+")", "{{instance}}")),
			timeseriesPanel("Throughput per sensor", "Bits per second each sensor sees.", "bps", 8, 8,
				q("sum by (site, instance) ("+m("interface:netanomaly_bytes:rate1m")+") * 8", "{{instance}}")),
			timeseriesPanel("Drop ratio per sensor", "The worst share of packets dropped by the kernel ring or the exporter's queue among each sensor's interfaces (5m).", "percentunit", 8, 8,
				q("max by (site, instance) ("+m("interface:netanomaly_capture_packets_dropped:ratio_rate5m")+")", "{{instance}}")).
				Min(0).Max(1),
		),
	)
}
