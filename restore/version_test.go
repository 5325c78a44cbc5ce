package restore

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
)

func TestDecide(t *testing.T) {
	lib := libraryEtcdVersion() // 3.7.x
	cases := []struct {
		name          string
		storage, etcd string
		want          Method
		wantErr       error
	}{
		{"same as library", "3.7.0", lib, InProcess, nil},
		{"newer cluster etcd", "3.7.0", "3.8.1", InProcess, nil},
		{"older cluster etcd, 3.6 snapshot", "3.6.0", "v3.6.4", RestorePod, nil},
		{"4.5-era cluster", "", "3.4.9", RestorePod, nil},
		{"unknown cluster, current snapshot", "3.7.0", "", InProcess, nil},
		{"unknown cluster, 3.6 snapshot", "3.6.0", "", RestorePod, nil},
		{"nothing known", "", "", RestorePod, nil},
		{"snapshot newer than cluster", "3.7.0", "3.6.9", "", ErrSnapshotTooNew},
		{"bad cluster version", "3.7.0", "three", "", lifeboat.ErrInvalidOptions},
		{"bad storage version", "x", lib, "", backup.ErrCorruptDatabase},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Decide(tc.storage, tc.etcd)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && d.Method != tc.want {
				t.Fatalf("method = %s (%s), want %s", d.Method, d.Reason, tc.want)
			}
			if err == nil && d.Reason == "" {
				t.Error("decision without a reason")
			}
		})
	}
}

func TestCheckVersions(t *testing.T) {
	cases := []struct {
		name, backup, cluster string
		mismatch              bool
	}{
		{"same", "4.5.2", "4.5.2", false},
		{"v prefix and build metadata", "v4.5.2+abc", "4.5.2", false},
		{"other z", "4.5.2", "4.5.3", true},
		{"other minor", "4.4.2", "4.5.2", true},
		{"backup unknown", "", "4.5.2", false},
		{"cluster unknown", "4.5.2", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkVersions(tc.backup, tc.cluster)
			var vm *VersionMismatchError
			if got := errors.As(err, &vm); got != tc.mismatch {
				t.Fatalf("mismatch = %v (%v), want %v", got, err, tc.mismatch)
			}
			if tc.mismatch && (vm.BackupVersion != tc.backup || vm.ClusterVersion != tc.cluster || !errors.Is(err, ErrVersionMismatch)) {
				t.Fatalf("error %+v does not carry both versions", vm)
			}
		})
	}
}
