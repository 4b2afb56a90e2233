package settingsform_test

import (
	"fmt"

	"github.com/gologout/logout/settingsform"
)

// A form value that is not plain decimal seconds is refused with a reason
// fit for the form; valid values become Settings.
func ExampleParse() {
	_, err := settingsform.Parse(map[string][]string{"lifetime": {"1e3"}, "warning_lead": {"60"}, "absolute_lifetime": {"0"}})
	fmt.Println(settingsform.FieldErrors(err)["lifetime"].Reason)
	s, _ := settingsform.Parse(map[string][]string{"lifetime": {"600"}, "warning_lead": {"30"}, "absolute_lifetime": {"0"}, "show_counter": {"on"}})
	fmt.Println(s.Lifetime, s.WarningLead, s.ShowCounter)
	// Output:
	// must be a whole number of seconds written with digits 0-9, not "1e3"
	// 10m0s 30s true
}
