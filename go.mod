module github.com/vigil-ids/vigil

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7
	golang.org/x/sys v0.49.0
	gopkg.in/yaml.v3 v3.0.1
)
