package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed sample capture is exactly what the generator writes: same
// program, same bytes (so `make sample` never changes it by accident).
func TestSampleIsReproducible(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.pcap")
	if err := write(out, 1); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../testdata/sample.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generated %d bytes differ from testdata/sample.pcap (%d bytes): run `make sample` and review", len(got), len(want))
	}
	// Copies are distinct flows, and more of them mean more bytes.
	out3 := filepath.Join(t.TempDir(), "s3.pcap")
	if err := write(out3, 3); err != nil {
		t.Fatal(err)
	}
	b3, _ := os.ReadFile(out3)
	if len(b3) <= 2*len(want) || !bytes.Equal(b3[:24], want[:24]) {
		t.Errorf("3 copies: %d bytes, header %x", len(b3), b3[:24])
	}
}
