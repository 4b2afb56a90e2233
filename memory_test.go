package logout_test

import (
	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) logout.Store { return logout.NewMemoryStore() })
}
