package member

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/names"
)

// EtcdMembersAvailable is the etcd operator condition the runbook reads in
// 2.2 (the runbook misspells it "EtcdbMembersAvailable").
const etcdMembersAvailable = names.EtcdMembersAvailable

// Availability is a parsed EtcdMembersAvailable message, for example
// "2 of 3 members are available, ip-10-0-131-183.ec2.internal is unhealthy"
// or "3 members are available".
type Availability struct {
	Available int
	Total     int
	// Unhealthy lists "<name> is unhealthy" entries, in message order.
	Unhealthy []string
	// NotStarted lists "<name> has not started" entries; the operator prints
	// the peer host for members that never started and have no name.
	NotStarted []string
	Message    string
}

var (
	someAvailable = regexp.MustCompile(`^(\d+) of (\d+) members are available$`)
	allAvailable  = regexp.MustCompile(`^(\d+) members are available$`)
)

// ParseMembersAvailable parses the message of the EtcdMembersAvailable
// condition as the cluster-etcd-operator writes it: a count, then one
// "<name> is unhealthy" or "<name> has not started" entry per member that
// is not available, joined by ", ".
func ParseMembersAvailable(msg string) (Availability, error) {
	a := Availability{Message: msg}
	parts := strings.Split(strings.TrimSpace(msg), ", ")
	if m := someAvailable.FindStringSubmatch(parts[0]); m != nil {
		a.Available, _ = strconv.Atoi(m[1])
		a.Total, _ = strconv.Atoi(m[2])
	} else if m := allAvailable.FindStringSubmatch(parts[0]); m != nil {
		a.Available, _ = strconv.Atoi(m[1])
		a.Total = a.Available
	} else {
		return a, fmt.Errorf("member: unrecognised %s message %q", etcdMembersAvailable, msg)
	}
	for _, p := range parts[1:] {
		switch {
		case strings.HasSuffix(p, " is unhealthy"):
			a.Unhealthy = append(a.Unhealthy, strings.TrimSuffix(p, " is unhealthy"))
		case strings.HasSuffix(p, " has not started"):
			a.NotStarted = append(a.NotStarted, strings.TrimSuffix(p, " has not started"))
		default:
			return a, fmt.Errorf("member: unrecognised entry %q in %s message %q", p, etcdMembersAvailable, msg)
		}
	}
	return a, nil
}

// Names returns the unhealthy, then the not-started names.
func (a Availability) Names() []string {
	return append(append([]string(nil), a.Unhealthy...), a.NotStarted...)
}

// QuorumLost reports whether the counts say that no majority is available.
// The operator's counts include learners, which do not vote, so this is
// only an estimate: FindUnhealthyMember uses it only when the member list
// (which says who is a learner) cannot be read.
func (a Availability) QuorumLost() bool { return a.Total > 0 && a.Available < quorum(a.Total) }
