//go:build !unix

package paneltest

import "os/exec"

// ownGroup does nothing: PHP's server forks no workers here.
func ownGroup(*exec.Cmd) {}
