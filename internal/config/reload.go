package config

import (
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reloader reloads --config.file (SIGHUP, POST /-/reload), puts a good
// file in force through apply, and reports how the last reload went.
type Reloader struct {
	path  string
	apply func(*Config)
	mu    sync.Mutex
	ok    bool
	at    time.Time // of the last successful load
}

// NewReloader returns a reloader of the file at path ("": none) that
// puts a good file in force with apply.
func NewReloader(path string, apply func(*Config)) *Reloader {
	return &Reloader{path: path, apply: apply, ok: true, at: time.Now()}
}

// Reload re-reads the configuration file and puts it in force; a file
// with problems leaves the running configuration in force.
func (c *Reloader) Reload(logger *slog.Logger) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" {
		c.ok, c.at = true, time.Now()
		return nil
	}
	cfg, err := Load(c.path, Options{Logger: logger})
	if err != nil {
		c.ok = false
		logger.Error("the configuration file has problems: the running configuration stays in force", "file", c.path, "err", err)
		return err
	}
	c.apply(cfg)
	c.ok, c.at = true, time.Now()
	logger.Info("configuration reloaded", "file", c.path, "user_rules", len(cfg.Rules))
	return nil
}

func (c *Reloader) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "netanomaly", Subsystem: "config", Name: "last_reload_successful",
			Help: "Whether the last load of --config.file succeeded (1) or left the previous configuration in force (0).",
		}, func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.ok {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "netanomaly", Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
			Help: "When --config.file was last loaded successfully, in Unix seconds.",
		}, func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			return float64(c.at.UnixNano()) / 1e9
		}),
	}
}

// Handler is POST /-/reload, as Prometheus has it.
func (c *Reloader) Handler(logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST or PUT", http.StatusMethodNotAllowed)
			return
		}
		if err := c.Reload(logger); err != nil {
			http.Error(w, "the configuration file has problems; the running configuration stays in force:\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "configuration reloaded\n")
	}
}
