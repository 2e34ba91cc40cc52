package stacktest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TemplateData is the data Alertmanager gives a notification template.
type TemplateData struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []TemplateAlert   `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

// TemplateAlert is one alert of TemplateData.
type TemplateAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// AmtoolRender renders one template of alertmanager/templates with the
// TemplateData in the JSON file dataFile, as HTML (escaped like
// Alertmanager's email body) when its name ends in .html.
func AmtoolRender(t testing.TB, amtool, dataFile, name string) string {
	t.Helper()
	typ := "text"
	if strings.HasSuffix(name, ".html") {
		typ = "html"
	}
	return Run(t, filepath.Join(RepoRoot(t), "alertmanager"), amtool, "template", "render",
		"--template.type="+typ, "--template.glob=templates/*.tmpl", "--template.data="+dataFile,
		"--template.text={{ template \""+name+"\" . }}")
}
