package widget

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed assets/logout.js assets/logout.css
var static embed.FS

// cacheControl lets browsers and proxies keep an asset for a year: its name
// changes with its content.
const cacheControl = "public, max-age=31536000, immutable"

// An asset is one embedded file under its versioned name.
type asset struct {
	name      string // logout-<hash8>.js
	ctype     string
	etag      string // quoted hex SHA-256
	integrity string // Subresource Integrity: sha256-<base64>
	data      []byte
}

// assetSet holds the widget's two files.
type assetSet struct {
	js, css asset
	byName  map[string]*asset
}

// assets loads and hashes the embedded files once.
var assets = sync.OnceValue(func() *assetSet {
	s := &assetSet{
		js:  load("assets/logout.js", ".js", "text/javascript; charset=utf-8"),
		css: load("assets/logout.css", ".css", "text/css; charset=utf-8"),
	}
	s.byName = map[string]*asset{s.js.name: &s.js, s.css.name: &s.css}
	return s
})

func load(file, ext, ctype string) asset {
	data, err := static.ReadFile(file)
	if err != nil {
		// The files are embedded at build time: this cannot happen in a
		// program that compiled.
		panic("widget: embedded asset missing: " + err.Error())
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	return asset{
		name:      "logout-" + h[:8] + ext,
		ctype:     ctype,
		etag:      `"` + h + `"`,
		integrity: "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
		data:      data,
	}
}

// Handler returns an [http.Handler] that serves the widget's JavaScript and
// CSS under versioned names such as logout-1a2b3c4d.js, the names that
// [Config.Script] links to. Mount it under [Config.AssetsPrefix] with
// [http.StripPrefix]:
//
//	mux.Handle("/backend/assets/logout/", http.StripPrefix("/backend/assets/logout", widget.Handler()))
//
// A name changes whenever the file's content does, so responses carry
// Cache-Control: public, max-age=31536000, immutable, a strong ETag, and
// X-Content-Type-Options: nosniff. It answers GET and HEAD (405 otherwise),
// honours If-None-Match and Range, and answers 404 for any other name. The
// handler is safe for concurrent use.
func Handler() http.Handler {
	return handler{assets()}
}

type handler struct{ set *assetSet }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.set.byName[strings.TrimPrefix(r.URL.Path, "/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", cacheControl)
	hd.Set("ETag", a.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.data))
}
