//go:build tools

// Package deps pins modules that tests and tools use, so go.mod lists them.
package deps

import (
	_ "github.com/gopacket/gopacket"
	_ "github.com/gopacket/gopacket/layers"
	_ "golang.org/x/sys/unix"
	_ "gopkg.in/yaml.v3"
)
