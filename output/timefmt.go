package output

import "time"

// splitTime converts a capture time in nanoseconds since the Unix epoch to
// the calendar fields in loc, plus microseconds.
func splitTime(ns int64, loc *time.Location) (t time.Time, usec int) {
	t = time.Unix(0, ns).In(loc)
	return t, t.Nanosecond() / 1000
}

// appendISOTime appends the time as Suricata writes EVE timestamps:
// "2009-11-24T21:26:03.604227+0100" (local time of loc, microseconds,
// numeric UTC offset without a colon, like strftime's %z).
func appendISOTime(b []byte, ns int64, loc *time.Location) []byte {
	t, usec := splitTime(ns, loc)
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = appendPadded(b, year, 4)
	b = append(b, '-')
	b = appendPadded(b, int(month), 2)
	b = append(b, '-')
	b = appendPadded(b, day, 2)
	b = append(b, 'T')
	b = appendPadded(b, hour, 2)
	b = append(b, ':')
	b = appendPadded(b, min, 2)
	b = append(b, ':')
	b = appendPadded(b, sec, 2)
	b = append(b, '.')
	b = appendPadded(b, usec, 6)
	_, off := t.Zone()
	if off < 0 {
		b = append(b, '-')
		off = -off
	} else {
		b = append(b, '+')
	}
	off /= 60
	b = appendPadded(b, off/60, 2)
	return appendPadded(b, off%60, 2)
}

// appendFastTime appends the time as Suricata writes it in fast.log:
// "11/24/2009-21:26:03.604227" (month/day/year, local time of loc).
func appendFastTime(b []byte, ns int64, loc *time.Location) []byte {
	t, usec := splitTime(ns, loc)
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = appendPadded(b, int(month), 2)
	b = append(b, '/')
	b = appendPadded(b, day, 2)
	b = append(b, '/')
	b = appendPadded(b, year, 2)
	b = append(b, '-')
	b = appendPadded(b, hour, 2)
	b = append(b, ':')
	b = appendPadded(b, min, 2)
	b = append(b, ':')
	b = appendPadded(b, sec, 2)
	b = append(b, '.')
	return appendPadded(b, usec, 6)
}

// AppendTimestamp appends a packet time as EVE writes timestamps
// ("2009-11-24T21:26:03.604227+0100", local time of loc), for other writers
// of EVE-style lines (output/pipe).
func AppendTimestamp(b []byte, ns int64, loc *time.Location) []byte {
	return appendISOTime(b, ns, loc)
}
