module github.com/gologout/logout/oidc

go 1.25.0

require github.com/gologout/logout v0.1.0
