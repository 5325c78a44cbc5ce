package cronjob

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	batchv1 "k8s.io/api/batch/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// grant is one permission: verb on group/resource, named or any name
// ("").
type grant struct{ group, resource, name, verb string }

func (g grant) String() string {
	n := g.name
	if n == "" {
		n = "*"
	}
	return g.verb + " " + g.resource + "." + g.group + "/" + n
}

// manifests splits backup-cronjob.yaml into its documents by kind.
func manifests(t *testing.T) map[string][][]byte {
	t.Helper()
	raw, err := os.ReadFile("backup-cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][][]byte{}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("invalid YAML: %v\n%s", err, doc)
		}
		docs[meta.Kind] = append(docs[meta.Kind], []byte(doc))
	}
	return docs
}

// precheckCalls runs the API reads of a backup's pre-checks
// (backup.CheckOperators and backup.ReadClusterInfo, what Take and
// offsite.Stream call) against a fake cluster and returns them.
func precheckCalls(t *testing.T) []grant {
	t.Helper()
	var objs []runtime.Object
	for _, name := range backup.Operators() {
		co := &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}
		co.Status.Conditions = []configv1.ClusterOperatorStatusCondition{{Type: configv1.OperatorProgressing, Status: configv1.ConditionFalse}}
		objs = append(objs, co)
	}
	installed := metav1.NewTime(time.Now().Add(-72 * time.Hour))
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version", CreationTimestamp: installed}}
	cv.Status.History = []configv1.UpdateHistory{{State: configv1.CompletedUpdate, Version: "4.5.2", StartedTime: installed, CompletionTime: &installed}}
	objs = append(objs, cv, &configv1.Proxy{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}, &configv1.APIServer{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}})
	fake := configfake.NewClientset(objs...)
	if err := backup.CheckOperators(t.Context(), fake); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.ReadClusterInfo(t.Context(), fake); err != nil {
		t.Fatal(err)
	}
	var calls []grant
	for _, a := range fake.Actions() {
		g := grant{group: a.GetResource().Group, resource: a.GetResource().Resource, verb: a.GetVerb()}
		if ga, ok := a.(k8stesting.GetAction); ok {
			g.name = ga.GetName()
		}
		calls = append(calls, g)
	}
	if len(calls) == 0 {
		t.Fatal("the pre-checks made no API call: the test would prove nothing")
	}
	return calls
}

// The ClusterRole grants exactly the reads the pre-checks make (verb,
// resource and name), and the namespaced Role only the use of the
// privileged SCC: nothing more, no wildcard, no Secret, no ConfigMap.
// Both are bound to the CronJob's ServiceAccount only.
func TestRBACIsExactlyWhatTheBackupCalls(t *testing.T) {
	docs := manifests(t)
	expand := func(rules []rbacv1.PolicyRule) []grant {
		var out []grant
		for _, r := range rules {
			names := r.ResourceNames
			if len(names) == 0 {
				names = []string{""}
			}
			if len(r.NonResourceURLs) > 0 {
				t.Errorf("rule grants non-resource URLs %v", r.NonResourceURLs)
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						for _, n := range names {
							if g == "*" || res == "*" || v == "*" {
								t.Errorf("wildcard in rule %+v", r)
							}
							out = append(out, grant{g, res, n, v})
						}
					}
				}
			}
		}
		slices.SortFunc(out, func(a, b grant) int { return strings.Compare(a.String(), b.String()) })
		return out
	}
	var roles []rbacv1.ClusterRole
	for _, d := range docs["ClusterRole"] {
		var r rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict(d, &r); err != nil {
			t.Fatal(err)
		}
		roles = append(roles, r)
	}
	if len(roles) != 1 || len(docs["Role"]) != 1 {
		t.Fatalf("%d ClusterRoles and %d Roles, want one of each", len(roles), len(docs["Role"]))
	}
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(docs["Role"][0], &role); err != nil {
		t.Fatal(err)
	}

	want := precheckCalls(t)
	slices.SortFunc(want, func(a, b grant) int { return strings.Compare(a.String(), b.String()) })
	want = slices.Compact(want)
	if got := expand(roles[0].Rules); !slices.Equal(got, want) {
		t.Errorf("ClusterRole grants\n  %v\nthe backup calls\n  %v", got, want)
	}
	scc := []grant{{"security.openshift.io", "securitycontextconstraints", "privileged", "use"}}
	if got := expand(role.Rules); !slices.Equal(got, scc) {
		t.Errorf("Role grants %v, want only %v", got, scc)
	}

	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict(docs["CronJob"][0], &cj); err != nil {
		t.Fatal(err)
	}
	sa := cj.Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		if len(docs[kind]) != 1 {
			t.Fatalf("%d %ss, want 1", len(docs[kind]), kind)
		}
		var b rbacv1.RoleBinding // same shape as a ClusterRoleBinding
		if err := yaml.Unmarshal(docs[kind][0], &b); err != nil {
			t.Fatal(err)
		}
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != sa || b.Subjects[0].Namespace != cj.Namespace {
			t.Errorf("%s %s binds %+v, want only the ServiceAccount %s/%s", kind, b.Name, b.Subjects, cj.Namespace, sa)
		}
	}
}

// The CronJob takes its storage credentials from a Secret through the
// environment and its recipients and destination from a ConfigMap, and
// passes them to the program; no credential is written in the manifests.
func TestCronJobTakesCredentialsFromASecret(t *testing.T) {
	docs := manifests(t)
	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict(docs["CronJob"][0], &cj); err != nil {
		t.Fatal(err)
	}
	if len(docs["Secret"]) != 0 {
		t.Error("the manifests ship a Secret: credentials belong in one created apart (oc create secret)")
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := pod.Containers[0]
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "lifeboat-backup-storage" {
		t.Errorf("envFrom %+v, want the Secret lifeboat-backup-storage", c.EnvFrom)
	}
	cmVars := map[string]bool{}
	for _, e := range c.Env {
		if e.Value != "" && strings.Contains(strings.ToUpper(e.Name), "KEY") {
			t.Errorf("env %s has a literal value", e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == "lifeboat-backup" {
			cmVars[e.Name] = true
		}
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{`-destination="$LIFEBOAT_DESTINATION"`, "-recipients-file=/etc/lifeboat/recipients"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %s: %s", want, args)
		}
	}
	if !cmVars["LIFEBOAT_DESTINATION"] {
		t.Error("LIFEBOAT_DESTINATION does not come from the ConfigMap lifeboat-backup")
	}
	mounted := false
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == "lifeboat-backup" {
			for _, m := range c.VolumeMounts {
				mounted = mounted || (m.Name == v.Name && m.MountPath == "/etc/lifeboat" && m.ReadOnly)
			}
		}
	}
	if !mounted {
		t.Error("the recipients of the ConfigMap are not mounted read-only at /etc/lifeboat")
	}
}
