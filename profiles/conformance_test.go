package profiles

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConformanceConfigs loads every suricata.yaml of the suricata-verify
// subset in ../shared, when it is there.
func TestConformanceConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../shared/conformance/suricata-verify/*/suricata.yaml")
	more, _ := filepath.Glob("../../shared/conformance/suricata-verify/*/*/suricata.yaml")
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("../shared/conformance is not here")
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		if !IsSuricataYAML(f) {
			t.Errorf("%s: not recognised as a suricata.yaml", f)
			continue
		}
		c, err := Load(LoadOptions{File: f, Machine: &small})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		t.Logf("%s: ignored %v", filepath.Base(filepath.Dir(f)), c.Ignored)
	}
}
