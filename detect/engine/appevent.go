package engine

import (
	"strings"

	"github.com/vigil-ids/vigil/dataplane/applayer/dns"
	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/applayer/tls"
	"github.com/vigil-ids/vigil/detect/rules"
)

// app-layer-event:<proto>.<event> matches a transaction on which the
// protocol's parser raised the event (Suricata's names, as in its
// app-layer-events rules). The app layer gives a transaction's events as
// the bit set FieldAppEvents (bit n = the parser's event n).
func init() {
	register(&keyword{name: "app-layer-event", setup: setupAppLayerEvent})
}

func setupAppLayerEvent(b *builder, o rules.Option) error {
	v := strings.ToLower(strings.TrimSpace(o.Value))
	neg := strings.HasPrefix(v, "!")
	v = strings.TrimSpace(strings.TrimPrefix(v, "!"))
	proto, name, ok := strings.Cut(v, ".")
	if !ok || name == "" {
		return errFmt("invalid event %q (want protocol.event, like http.request_field_too_long)", o.Value)
	}
	var bit uint
	var mask ProtoMask
	switch proto {
	case "http", "http1":
		e, ok := http.EventByName(name)
		if !ok {
			return errFmt("unknown http event %q", name)
		}
		bit, mask = uint(e), protoHTTP
	case "dns":
		e, ok := dns.EventByName(name)
		if !ok {
			return errFmt("unknown dns event %q", name)
		}
		bit, mask = uint(e), protoDNS
	case "tls":
		e, ok := tls.EventByName(name)
		if !ok {
			return errFmt("unknown tls event %q", name)
		}
		bit, mask = uint(e), protoTLS
	default:
		return errFmt("events of protocol %q are not supported (http, dns, tls)", proto)
	}
	if bit >= 64 {
		return errFmt("event %q out of range", name)
	}
	if b.sig.alproto == 0 {
		b.sig.alproto = mask
	} else if b.sig.alproto&mask == 0 {
		return errFmt("app-layer-event for %s in a rule for another protocol", proto)
	} else {
		b.sig.alproto &= mask
	}
	b.sig.fields = append(b.sig.fields, fieldMatch{id: FieldAppEvents, mask: 1 << bit, neg: neg})
	return nil
}
