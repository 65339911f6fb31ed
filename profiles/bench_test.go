package profiles

import "testing"

// BenchmarkLoadSuricata measures the start-up cost of reading the stock
// suricata.yaml (parse, map, layer, decode, validate).
func BenchmarkLoadSuricata(b *testing.B) {
	m := medium
	for b.Loop() {
		if _, err := Load(LoadOptions{File: stock, Machine: &m}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadProfile measures loading a built-in profile with a --set.
func BenchmarkLoadProfile(b *testing.B) {
	m := medium
	for b.Loop() {
		if _, err := Load(LoadOptions{Profile: "ids-afxdp", Sets: []string{"capture.interfaces=eth1"}, Machine: &m}); err != nil {
			b.Fatal(err)
		}
	}
}
