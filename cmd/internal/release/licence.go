package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/licensecheck"
)

// licenceCoverage is how much of a LICENSE file the scanner must match to
// the licence: pkg.go.dev, which uses the same scanner, shows the
// documentation of modules whose licence files it recognises this well.
const licenceCoverage = 90

// checkLicences checks that every module's directory holds a copy of the
// root's LICENSE, which licensecheck recognises as MIT: a module's zip
// holds only its own directory, so each needs the file.
func checkLicences(root string, mods []mod) error {
	want, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		return err
	}
	cov := licensecheck.Scan(want)
	if cov.Percent < licenceCoverage || len(cov.Match) != 1 || cov.Match[0].ID != "MIT" {
		return fmt.Errorf("LICENSE: licensecheck finds %+v, want MIT covering at least %d%%", cov.Match, licenceCoverage)
	}
	for _, m := range mods {
		if m.Dir == "" {
			continue
		}
		name := filepath.Join(m.Dir, "LICENSE")
		have, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(have, want) {
			return fmt.Errorf("%s must be a copy of LICENSE, as each module's zip holds only its own directory (cp LICENSE %s)", name, name)
		}
	}
	return nil
}
