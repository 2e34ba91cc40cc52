package siem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

// RFC 5424 header field limits.
const (
	maxAppName = 48
	maxProcID  = 128
	maxMsgID   = 32
)

// Formatter turns event records into RFC 5424 syslog messages whose MSG
// is the record as an ECS JSON document (without a BOM: the receivers
// SOC teams use take the JSON as it is). It reuses a buffer: one
// goroutine at a time.
type Formatter struct {
	// Facility is the RFC 5424 facility code, 0 to 23.
	Facility int
	// Hostname and ProcID fill the header; fields unfit for it are made
	// fit (see headerField), empty ones become "-".
	Hostname, ProcID string
	// MaxBytes caps a whole message; 0 leaves it uncapped.
	MaxBytes int

	buf bytes.Buffer
}

// trims drop parts of a document, least important first, until a
// message fits its cap. Each keeps the JSON valid, since it edits the
// document and not its encoding.
var trims = []func(*document){
	func(d *document) { d.Netanomaly.Evidence = nil },
	func(d *document) { d.Netanomaly.TopFeatures = nil },
	func(d *document) { d.Related = nil; d.Netanomaly.SourceMACs = nil },
	func(d *document) {
		d.Netanomaly.Sources = d.Netanomaly.Sources[:min(len(d.Netanomaly.Sources), 1)]
		d.Netanomaly.Targets = d.Netanomaly.Targets[:min(len(d.Netanomaly.Targets), 1)]
		d.Netanomaly.Attacks = d.Netanomaly.Attacks[:min(len(d.Netanomaly.Attacks), 1)]
	},
	func(d *document) {
		if d.Threat != nil {
			d.Threat.Technique.Name, d.Threat.Technique.Reference = nil, nil
		}
		if d.Rule != nil {
			d.Rule.Description = ""
		}
	},
	func(d *document) { d.Event.Reason = "" },
}

// Format appends the message of rec to dst and returns it. now stands in
// for a record time that is missing or invalid. trimmed reports that
// fields were dropped to keep under MaxBytes; err is set only when even
// the barest document does not fit, which a cap of MinMessageBytes or
// more with a sane hostname never causes.
func (f *Formatter) Format(dst []byte, rec *detector.VerdictJSON, now time.Time) (msg []byte, trimmed bool, err error) {
	d := newDocument(rec, f.Hostname, now)
	start := len(dst)
	dst = f.header(dst, rec, Severity(rec), d.Timestamp)
	head := len(dst) - start
	body, err := f.encode(&d)
	if err != nil {
		return dst[:start], false, err
	}
	if f.MaxBytes <= 0 || head+len(body) <= f.MaxBytes {
		return append(dst, body...), false, nil
	}
	for _, trim := range trims {
		trim(&d)
		if body, err = f.encode(&d); err != nil {
			return dst[:start], false, err
		}
		if head+len(body) <= f.MaxBytes {
			return append(dst, body...), true, nil
		}
	}
	// Last, shorten the message. Cutting n bytes of it shortens the JSON
	// by n or more (escapes only lengthen a character), so one cut
	// usually does; a few more cover rounding to a character boundary.
	for range 4 {
		over := head + len(body) - f.MaxBytes
		if over <= 0 {
			return append(dst, body...), true, nil
		}
		if len(d.Message) == 0 {
			break
		}
		d.Message = cutString(d.Message, len(d.Message)-over-len("…")) + "…"
		if body, err = f.encode(&d); err != nil {
			return dst[:start], false, err
		}
	}
	if head+len(body) <= f.MaxBytes {
		return append(dst, body...), true, nil
	}
	return dst[:start], false, fmt.Errorf("%s record of %d bytes does not fit syslog.max_message_bytes=%d even with every optional field dropped: raise it", rec.Kind, head+len(body), f.MaxBytes)
}

// header appends the RFC 5424 header: PRI, VERSION, TIMESTAMP,
// HOSTNAME, APP-NAME, PROCID, MSGID and the NILVALUE for structured
// data, each followed by a space.
func (f *Formatter) header(dst []byte, rec *detector.VerdictJSON, sev int, ts string) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(f.Facility*8+sev), 10)
	dst = append(dst, ">1 "...)
	dst = append(dst, ts...)
	dst = append(dst, ' ')
	dst = append(dst, headerField(f.Hostname, maxHostname)...)
	dst = append(dst, ' ')
	dst = append(dst, headerField(Product, maxAppName)...)
	dst = append(dst, ' ')
	dst = append(dst, headerField(f.ProcID, maxProcID)...)
	dst = append(dst, ' ')
	dst = append(dst, headerField(rec.Kind, maxMsgID)...)
	return append(dst, " - "...)
}

// encode renders the document as compact JSON. HTML escaping is off:
// summaries hold '>' and '&', and SOC analysts read the raw message.
func (f *Formatter) encode(d *document) ([]byte, error) {
	f.buf.Reset()
	enc := json.NewEncoder(&f.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode %s record: %w", d.Event.Action, err)
	}
	return bytes.TrimSuffix(f.buf.Bytes(), []byte{'\n'}), nil
}

// cutString cuts s to at most n bytes on a character boundary.
func cutString(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
