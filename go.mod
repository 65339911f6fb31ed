module github.com/vigil-ids/vigil

go 1.26.0

require (
	github.com/cloudflare/ahocorasick v0.0.0-20240916140611-054963ec9396
	github.com/flier/gohs v1.2.2
	github.com/gopacket/gopacket v1.7.7
	github.com/petar-dambovaliev/aho-corasick v0.0.0-20250424160509-463d218d4745
	golang.org/x/sys v0.49.0
	gopkg.in/yaml.v3 v3.0.1
)
