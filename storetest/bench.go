package storetest

import (
	"fmt"
	"testing"

	"github.com/gologout/logout"
)

// BenchmarkPages measures the pages of 50 of the n sessions that s holds
// (stored by the caller, in bulk) in order: the first page and the pages
// at half and at 90 % of a walk, each op one page, and a whole walk,
// reported as ns/page. A store whose listing is an index walk from its
// cursor costs the same wherever the page starts. perPage, when not nil,
// runs in each page's benchmark after the timing, with its options, to
// report more of the page (the plan's reads, say).
func BenchmarkPages(b *testing.B, s logout.Store, n int, order logout.SessionOrder, perPage func(b *testing.B, opts logout.ListOptions)) {
	const size = 50
	var cursors []logout.Cursor // cursors[i] starts page i, from one walk
	opts := logout.ListOptions{Order: order, Limit: size}
	for {
		cursors = append(cursors, opts.After)
		page, err := s.ListSessions(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(page) < size {
			break
		}
		opts.After = logout.CursorOf(page[len(page)-1])
	}
	if len(cursors) != n/size+1 {
		b.Fatalf("the walk has %d pages, want %d", len(cursors), n/size+1)
	}
	for _, at := range []int{0, 50, 90} {
		b.Run(fmt.Sprintf("page_at_%d%%", at), func(b *testing.B) {
			opts := logout.ListOptions{Order: order, After: cursors[len(cursors)*at/100], Limit: size}
			b.ReportAllocs()
			for b.Loop() {
				if page, err := s.ListSessions(b.Context(), opts); err != nil || len(page) != size {
					b.Fatalf("ListSessions = %d sessions, %v", len(page), err)
				}
			}
			if perPage != nil {
				perPage(b, opts) // after the timing, whose start drops reported metrics
			}
		})
	}
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		pages := 0
		for b.Loop() {
			opts := logout.ListOptions{Order: order, Limit: size}
			for {
				page, err := s.ListSessions(b.Context(), opts)
				if err != nil {
					b.Fatal(err)
				}
				pages++
				if len(page) < size {
					break
				}
				opts.After = logout.CursorOf(page[len(page)-1])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pages), "ns/page")
	})
}
