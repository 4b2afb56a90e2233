package main

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/google/licensecheck"
	"golang.org/x/mod/module"
)

// licenceFile matches the names of licence files at a module's root.
var licenceFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying|unlicense)([-._].*)?$`)

// moduleLicences returns the SPDX expression of the licences that
// licensecheck finds in the licence files at the root of dir, or
// NOASSERTION.
func moduleLicences(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "NOASSERTION"
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() || !licenceFile.MatchString(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for _, m := range licensecheck.Scan(b).Match {
			if !slices.Contains(ids, m.ID) {
				ids = append(ids, m.ID)
			}
		}
	}
	if len(ids) == 0 {
		return "NOASSERTION"
	}
	sort.Strings(ids)
	return strings.Join(ids, " AND ")
}

// spdx types: the parts of an SPDX 2.3 document that the SBOM uses.
type (
	spdxDoc struct {
		SPDXVersion       string             `json:"spdxVersion"`
		DataLicense       string             `json:"dataLicense"`
		SPDXID            string             `json:"SPDXID"`
		Name              string             `json:"name"`
		DocumentNamespace string             `json:"documentNamespace"`
		CreationInfo      spdxCreation       `json:"creationInfo"`
		Packages          []spdxPackage      `json:"packages"`
		Relationships     []spdxRelationship `json:"relationships"`
	}
	spdxCreation struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	}
	spdxPackage struct {
		SPDXID           string    `json:"SPDXID"`
		Name             string    `json:"name"`
		VersionInfo      string    `json:"versionInfo"`
		DownloadLocation string    `json:"downloadLocation"`
		FilesAnalyzed    bool      `json:"filesAnalyzed"`
		LicenseConcluded string    `json:"licenseConcluded"`
		LicenseDeclared  string    `json:"licenseDeclared"`
		CopyrightText    string    `json:"copyrightText"`
		PrimaryPurpose   string    `json:"primaryPackagePurpose,omitempty"`
		ExternalRefs     []spdxRef `json:"externalRefs,omitempty"`
	}
	spdxRef struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	spdxRelationship struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
)

// writeSBOM writes the software bill of materials of the release's
// binaries: each command and every module that their build information
// lists (the union over the platforms), with its version and the
// licences found in its files, and Go's standard library. Modules are
// read from modcache, the repository's own (at "(devel)" in a snapshot)
// from root.
func writeSBOM(root, outDir string, rel *release, modcache string) (string, error) {
	v := rel.name()
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              "logout-" + v,
		DocumentNamespace: "https://github.com/gologout/logout/releases/" + rel.Version + "/sbom/" + rel.Commit,
		CreationInfo:      spdxCreation{Created: rel.Time.Format("2006-01-02T15:04:05Z"), Creators: []string{"Tool: github.com/gologout/logout/cmd/internal/release"}},
	}
	ids := map[string]string{} // SPDXID by path@version
	add := func(path, version, licence, purpose string) string {
		key := path + "@" + version
		if id, ok := ids[key]; ok {
			return id
		}
		id := fmt.Sprintf("SPDXRef-Package-%d", len(ids)+1)
		ids[key] = id
		purl := "pkg:golang/" + path + "@" + version
		doc.Packages = append(doc.Packages, spdxPackage{
			SPDXID: id, Name: path, VersionInfo: version, DownloadLocation: "NOASSERTION",
			LicenseConcluded: licence, LicenseDeclared: licence, CopyrightText: "NOASSERTION", PrimaryPurpose: purpose,
			ExternalRefs: []spdxRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: purl}},
		})
		return id
	}
	dirOf := func(path, version string) string {
		if esc, err := module.EscapePath(path); err == nil {
			dir := filepath.Join(modcache, filepath.FromSlash(esc)+"@"+version)
			if _, err := os.Stat(dir); err == nil || !isOurs(path) {
				return dir
			}
		}
		// The repository's own modules, built from the work tree (the
		// main module of a release, every one of a snapshot).
		return filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(path, rootPath), "/"))
	}
	var plats []platform
	for p := range rel.Binaries {
		plats = append(plats, p)
	}
	slices.SortFunc(plats, func(a, b platform) int { return strings.Compare(a.String(), b.String()) })
	for _, p := range plats {
		for _, bin := range rel.Binaries[p] {
			bi, err := buildinfo.ReadFile(bin)
			if err != nil {
				return "", err
			}
			name := strings.TrimSuffix(filepath.Base(bin), ".exe")
			cmd := add(bi.Path, bi.Main.Version, moduleLicences(dirOf(bi.Main.Path, bi.Main.Version)), "APPLICATION")
			doc.Packages[len(doc.Packages)-1].Name = name // the command, in its module
			doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", cmd})
			std := add("stdlib", bi.GoVersion, "BSD-3-Clause", "LIBRARY")
			doc.Relationships = append(doc.Relationships, spdxRelationship{cmd, "DEPENDS_ON", std})
			for _, d := range bi.Deps {
				if d.Replace != nil {
					d = d.Replace
				}
				dep := add(d.Path, d.Version, moduleLicences(dirOf(d.Path, d.Version)), "LIBRARY")
				doc.Relationships = append(doc.Relationships, spdxRelationship{cmd, "DEPENDS_ON", dep})
			}
		}
	}
	doc.Relationships = slices.CompactFunc(sortedRelationships(doc.Relationships), func(a, b spdxRelationship) bool { return a == b })
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", err
	}
	name := "logout_" + v + "_sbom.spdx.json"
	return name, os.WriteFile(filepath.Join(outDir, name), append(b, '\n'), 0o644)
}

func sortedRelationships(rs []spdxRelationship) []spdxRelationship {
	slices.SortFunc(rs, func(a, b spdxRelationship) int {
		return strings.Compare(a.Element+" "+a.Type+" "+a.Related, b.Element+" "+b.Type+" "+b.Related)
	})
	return rs
}
