package widget_test

import (
	"fmt"
	"time"

	"github.com/gologout/logout/widget"
)

// The format follows the lifetime, so a page that repeats the counter,
// such as a "Time left" card, shows what the counter shows.
func ExampleFormatLeft() {
	cs := widget.Labels{Lang: "cs", Day: "den", Days: "dní", DaysFew: "dny"}
	fmt.Println(widget.FormatLeft(30*time.Minute, 15*time.Minute, widget.Labels{}))
	fmt.Println(widget.FormatLeft(30*time.Minute, time.Hour, widget.Labels{}))
	fmt.Println(widget.FormatLeft(2*24*time.Hour+999*time.Millisecond, 7*24*time.Hour, cs))
	fmt.Println(widget.FormatLeft(5*24*time.Hour, 7*24*time.Hour, cs))
	// Output:
	// 30:00
	// 00:30:00
	// 2 dny 00:00:01
	// 5 dní 00:00:00
}

func ExamplePluralCategory() {
	for _, n := range []int64{1, 2, 5, 22} {
		fmt.Println(n, widget.PluralCategory("en", n), widget.PluralCategory("pl", n), widget.PluralCategory("cs", n))
	}
	// Output:
	// 1 one one one
	// 2 other few few
	// 5 other many other
	// 22 other few other
}
