package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gologout/logout"
	"github.com/gologout/logout/oidc"
	"golang.org/x/oauth2"
)

// The three handlers of an application that signs its staff in through
// an OpenID provider, with Logout's idle timeout reaching the provider.
// (State and nonce handling, which the application keeps, is shortened
// here to fixed values.)
func Example() {
	ctx := context.Background()
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{})
	if err != nil {
		log.Fatal(err)
	}
	const issuer = "https://idp.example/realms/staff"
	provider, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		log.Fatal(err)
	}
	conf := oauth2.Config{
		ClientID: "panel", ClientSecret: "…", Endpoint: provider.Endpoint(),
		RedirectURL: "https://panel.example/backend/auth/oidc/callback",
		Scopes:      []string{gooidc.ScopeOpenID, "profile"},
	}
	verifier := provider.Verifier(&gooidc.Config{ClientID: conf.ClientID})
	rp, err := oidc.New(ctx, m, oidc.Options{
		Issuer: issuer, ClientID: conf.ClientID,
		PostLogoutRedirectURL: "https://panel.example/backend/auth/oidc/logged-out",
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /backend/auth/oidc/backchannel", rp.BackChannel())
	mux.Handle("GET /backend/auth/oidc/logged-out", rp.PostLogout())
	mux.HandleFunc("GET /backend/auth/oidc/login", func(w http.ResponseWriter, r *http.Request) {
		if rp.EndProviderSession(w, r) {
			return // to the provider's end_session_endpoint, and back
		}
		http.Redirect(w, r, conf.AuthCodeURL("state", rp.AuthCodeOptions(w, r)...), http.StatusFound)
	})
	mux.HandleFunc("GET /backend/auth/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		id, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusForbidden)
			return
		}
		_, err = rp.SignIn(w, r, logout.User{ID: id.Subject}, raw)
		switch {
		case errors.Is(err, oidc.ErrReauthenticate):
			http.Redirect(w, r, "/backend/auth/oidc/login", http.StatusSeeOther)
		case err != nil:
			http.Error(w, "sign-in refused", http.StatusForbidden)
		default:
			http.Redirect(w, r, "/backend/", http.StatusSeeOther)
		}
	})
	_ = http.ListenAndServe("127.0.0.1:8080", m.Handler(mux))
}

// Sessions are tagged by hashes of the provider's identifiers, all of one
// length.
func ExampleSessionTag() {
	tag := oidc.SessionTag("https://idp.example/realms/staff", "5f2c…")
	fmt.Println(tag[:9], len(tag))
	// Output: oidc:sid: 73
}
