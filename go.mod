module github.com/gologout/logout

go 1.25.0
