package decode

import (
	"fmt"
	"sync"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// Event id space. Decoder events (this package) use ids below
// FirstExternalEvent; other packages (stream, defrag, ...) register their
// events at or above it with RegisterEvents.
const (
	// MaxDecoderEvent is the upper bound (exclusive) of ids reserved for
	// decoder events; NumDecoderEvents is how many are defined today.
	MaxDecoderEvent packet.EventID = 1000
	// FirstExternalEvent is the first id other packages may register.
	FirstExternalEvent packet.EventID = 1000
)

var (
	extMu     sync.RWMutex
	extByID   = map[packet.EventID]string{}
	extByName = map[string]packet.EventID{}
	decByName = func() map[string]packet.EventID {
		m := make(map[string]packet.EventID, len(decoderEventNames))
		for id, n := range decoderEventNames {
			if n != "" {
				m[n] = packet.EventID(id)
			}
		}
		return m
	}()
)

// EventName returns the Suricata name of an event ("ipv4.trunc_pkt"), or ""
// if id is unknown.
func EventName(id packet.EventID) string {
	if id < NumDecoderEvents {
		return decoderEventNames[id]
	}
	extMu.RLock()
	n := extByID[id]
	extMu.RUnlock()
	return n
}

// EventByName looks an event up by its Suricata name (the value of the
// decode-event / stream-event rule keywords, without the keyword).
func EventByName(name string) (packet.EventID, bool) {
	if id, ok := decByName[name]; ok {
		return id, true
	}
	extMu.RLock()
	id, ok := extByName[name]
	extMu.RUnlock()
	return id, ok
}

// RegisterEvents gives names to the events first, first+1, ... of another
// package (for example stream.*). first must be at least FirstExternalEvent;
// ids and names must not be registered yet. Call it from package
// initialisation.
func RegisterEvents(first packet.EventID, names ...string) error {
	if first < FirstExternalEvent {
		return fmt.Errorf("decode: RegisterEvents: id %d is in the decoder range (below %d)", first, FirstExternalEvent)
	}
	if int(first)+len(names)-1 > 0xffff {
		return fmt.Errorf("decode: RegisterEvents: %d names from id %d overflow the EventID range", len(names), first)
	}
	extMu.Lock()
	defer extMu.Unlock()
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		id := first + packet.EventID(i)
		if n == "" {
			return fmt.Errorf("decode: RegisterEvents: empty name for id %d", id)
		}
		if old, ok := extByID[id]; ok {
			return fmt.Errorf("decode: RegisterEvents: id %d already registered as %q", id, old)
		}
		if _, ok := decByName[n]; ok || seen[n] {
			return fmt.Errorf("decode: RegisterEvents: name %q already registered", n)
		}
		if _, ok := extByName[n]; ok {
			return fmt.Errorf("decode: RegisterEvents: name %q already registered", n)
		}
		seen[n] = true
	}
	for i, n := range names {
		id := first + packet.EventID(i)
		extByID[id] = n
		extByName[n] = id
	}
	return nil
}
