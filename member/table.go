package member

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// MemberTable renders members as "etcdctl member list -w table" (etcdctl
// v3.7) prints them: box-drawing borders, centred headers, right-aligned
// cells, columns ID (hex), STATUS (started/unstarted), NAME, PEER ADDRS,
// CLIENT ADDRS, IS LEARNER.
func MemberTable(members []*pb.Member) string {
	var b strings.Builder
	_ = writeMemberTable(&b, members)
	return b.String()
}

// writeMemberTable writes MemberTable(members) to w.
func writeMemberTable(w io.Writer, members []*pb.Member) error {
	header := []string{"ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"}
	rows := make([][]string, 0, len(members))
	for _, m := range members {
		status := "started"
		if len(m.Name) == 0 {
			status = "unstarted"
		}
		rows = append(rows, []string{
			fmt.Sprintf("%x", m.ID), status, m.Name,
			strings.Join(m.PeerURLs, ","), strings.Join(m.ClientURLs, ","),
			strconv.FormatBool(m.IsLearner),
		})
	}
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	rule := func(left, mid, right string) {
		b.WriteString(left)
		for i, wd := range width {
			if i > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat("─", wd+2))
		}
		b.WriteString(right + "\n")
	}
	line := func(cells []string, centre bool) {
		for i, c := range cells {
			pad := width[i] - utf8.RuneCountInString(c)
			left := pad
			if centre {
				left = pad / 2
			}
			b.WriteString("│ " + strings.Repeat(" ", left) + c + strings.Repeat(" ", pad-left) + " ")
		}
		b.WriteString("│\n")
	}
	rule("┌", "┬", "┐")
	line(header, true)
	rule("├", "┼", "┤")
	for _, r := range rows {
		line(r, false)
	}
	rule("└", "┴", "┘")
	_, err := io.WriteString(w, b.String())
	return err
}
