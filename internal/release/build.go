package main

import (
	"context"
	"errors"
	"io"
)

// build is not written yet.
func build(ctx context.Context, w io.Writer, root string, args []string) error {
	return errors.New("build: not written yet")
}
