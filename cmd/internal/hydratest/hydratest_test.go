package hydratest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gologout/logout/cmd/internal/hydratest"
)

func TestStart(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{})
	c := h.NewClient(t, hydratest.Client{RedirectURIs: []string{"http://127.0.0.1:1/callback"}})
	if c.ID == "" || c.Secret == "" {
		t.Fatalf("client %+v: want an ID and a secret", c)
	}
	res, err := http.Get(h.Issuer + ".well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d struct {
		Issuer                string `json:"issuer"`
		EndSession            string `json:"end_session_endpoint"`
		BackChannelSupported  bool   `json:"backchannel_logout_supported"`
		FrontChannelSupported bool   `json:"frontchannel_logout_supported"`
	}
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != h.Issuer || d.EndSession == "" || !d.BackChannelSupported || !d.FrontChannelSupported {
		t.Errorf("discovery %+v: want issuer %s, an end_session_endpoint and both logout channels", d, h.Issuer)
	}
}
