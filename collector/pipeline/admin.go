package pipeline

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// AdminHeader is the custom header that, like a JSON content type, marks
// an admin call as not from a cross-site browser form.
const AdminHeader = "X-Netanomaly-Admin"

// AdminAuthenticated tells whether the web configuration file asks every
// client for credentials: basic auth users, or verified client
// certificates.
func AdminAuthenticated(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var c web.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return false, err
	}
	return len(c.Users) > 0 || c.TLSConfig.ClientAuth == "RequireAndVerifyClientCert", nil
}

// RegisterAdmin adds the admin API. It sits behind the same TLS and basic
// auth as /metrics (exporter-toolkit wraps the whole mux).
func RegisterAdmin(mux *http.ServeMux, ps []*Pipeline, logger *slog.Logger) {
	byName := map[string]*Pipeline{}
	for _, p := range ps {
		byName[p.Interface()] = p
	}
	// pick returns the pipelines an admin call names: ?interface=X, or all.
	pick := func(w http.ResponseWriter, r *http.Request) ([]*Pipeline, bool) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return nil, false
		}
		// A browser sends a cross-site form or text/plain POST without
		// asking; JSON or a custom header needs a preflight we never answer.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && r.Header.Get(AdminHeader) == "" {
			http.Error(w, "send Content-Type: application/json or an "+AdminHeader+" header", http.StatusUnsupportedMediaType)
			return nil, false
		}
		name := r.URL.Query().Get("interface")
		if name == "" {
			return ps, true
		}
		p, ok := byName[name]
		if !ok {
			http.Error(w, fmt.Sprintf("no interface %q", name), http.StatusNotFound)
			return nil, false
		}
		return []*Pipeline{p}, true
	}
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/api/v1/admin/retrain", func(w http.ResponseWriter, r *http.Request) {
		sel, ok := pick(w, r)
		if !ok {
			return
		}
		var done []string
		for _, p := range sel {
			if d := p.Detector(); d != nil {
				d.RequestRetrain()
				done = append(done, p.Interface())
			}
		}
		logger.Info("retrain requested through the admin API", "interfaces", done)
		reply(w, map[string]any{"status": "retraining at the next window", "interfaces": done})
	})
	capture := func(start bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			sel, ok := pick(w, r)
			if !ok {
				return
			}
			var done []string
			for _, p := range sel {
				if start {
					p.StartCapture()
				} else if err := p.StopCapture(); err != nil {
					http.Error(w, fmt.Sprintf("%s: %v", p.Interface(), err), http.StatusConflict)
					return
				}
				done = append(done, p.Interface())
			}
			logger.Info("capture changed through the admin API", "start", start, "interfaces", done)
			reply(w, map[string]any{"capturing": start, "interfaces": done})
		}
	}
	mux.HandleFunc("/api/v1/admin/capture/stop", capture(false))
	mux.HandleFunc("/api/v1/admin/capture/start", capture(true))
}
