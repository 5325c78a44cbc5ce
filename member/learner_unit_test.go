package member

import (
	"errors"
	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"strings"
	"testing"
)

// TestLearnerChoiceAndVerify: the logic around learners, on the fake.
func TestLearnerChoiceAndVerify(t *testing.T) {
	tests := []struct {
		name        string
		down        []string
		learner     string
		wantMember  string
		wantErr     error
		verifyIssue string
	}{
		{name: "unhealthy voter before unhealthy learner", down: []string{"d", "b"}, learner: "d", wantMember: "b"},
		{name: "unhealthy learner alone", down: []string{"d"}, learner: "d", wantMember: "d"},
		{name: "healthy learner is not finished", learner: "d", wantErr: ErrNoUnhealthyMember, verifyIssue: "is a learner"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := etcdtest.NewCluster("a", "b", "c", "d").Down(tc.down...)
			f.SetLearner(tc.learner, true)
			deps := Deps{Etcd: f, Health: f}
			got, err := FindUnhealthyMember(t.Context(), deps, FindOptions{Logger: quiet})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if got.Member.Name != tc.wantMember {
				t.Fatalf("named %s, want %s", got.Member.Name, tc.wantMember)
			}
			if tc.verifyIssue == "" {
				return
			}
			v, err := Verify(t.Context(), deps, VerifyOptions{Expected: 4})
			if err != nil {
				t.Fatal(err)
			}
			if v.OK() || !strings.Contains(strings.Join(v.Problems, "; "), tc.verifyIssue) {
				t.Fatalf("Verify problems %v, want one saying %q", v.Problems, tc.verifyIssue)
			}
		})
	}
}
