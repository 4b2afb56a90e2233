module github.com/gologout/logout/mysqlstore

go 1.25.0

replace github.com/gologout/logout => ..

require (
	github.com/go-sql-driver/mysql v1.11.0
	github.com/gologout/logout v0.0.0-00010101000000-000000000000
)

require filippo.io/edwards25519 v1.2.0 // indirect
