module github.com/gologout/logout/internal/hydratest

go 1.25.0
