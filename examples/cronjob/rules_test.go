// Package cronjob holds the CronJob example's manifests; its test checks
// the PrometheusRule against the freshness package.
package cronjob

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup/freshness"
)

// prometheusRule is the part of monitoring.coreos.com/v1 PrometheusRule
// the test reads.
type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// metricName finds metric names of lifeboat in PromQL and templates.
var metricName = regexp.MustCompile(`\blifeboat_[a-zA-Z0-9_:]*`)

func TestPrometheusRuleUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(b, &pr); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Metadata.Name == "" || pr.Metadata.Namespace != "lifeboat-backup" {
		t.Fatalf("not a PrometheusRule in lifeboat-backup: %s %s %s/%s", pr.APIVersion, pr.Kind, pr.Metadata.Namespace, pr.Metadata.Name)
	}
	exported := freshness.MetricNames()
	used := map[string]bool{}
	var alerts []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %q: alert, expr, severity and summary are required", r.Alert)
			}
			alerts = append(alerts, r.Alert)
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("alert %s uses no lifeboat metric: %s", r.Alert, r.Expr)
			}
			for _, text := range r.Annotations {
				names = append(names, metricName.FindAllString(text, -1)...)
			}
			for _, n := range names {
				if !slices.Contains(exported, n) {
					t.Errorf("alert %s uses %s, which package freshness does not export (it exports %v)", r.Alert, n, exported)
				}
				used[n] = true
			}
		}
	}
	// The alerts the issue asks for: no success within the window, and
	// the last attempt failed.
	for _, want := range []string{"LifeboatBackupTooOld", "LifeboatBackupFailed"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s (have %v)", want, alerts)
		}
	}
	for _, n := range []string{freshness.LastSuccessTimestamp, freshness.LastAttemptSuccess} {
		if !used[n] {
			t.Errorf("no rule uses %s", n)
		}
	}
}
