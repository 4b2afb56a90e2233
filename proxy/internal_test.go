package proxy

import "net/url"

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// PHPCookies is $_COOKIE of a Cookie header, for the end-to-end tests.
var PHPCookies = phpCookies
