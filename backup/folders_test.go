package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLatestFolder(t *testing.T) {
	tests := []struct {
		name      string
		dirs      []string // folders in the root
		files     []string // plain files in the root
		opts      FolderOptions
		want      string
		wantName  string // the EtcdBackup name of want
		wantList  []string
		wantErr   error
		wantNamed []string
	}{
		{name: "newest EtcdBackup run by its stamp",
			dirs: []string{"backup-nightly-29012345-2026-11-30_020000", "backup-nightly-29012344-2026-11-29_020000",
				"backup-weekly.v2-2026-11-28_030000", "lost+found", "backup-2026-12-01_000000", "backup--2026-12-01_000000"},
			files:    []string{"backup-nightly-29012346-2026-12-01_020000", "notes.txt"},
			want:     "backup-nightly-29012345-2026-11-30_020000",
			wantName: "nightly-29012345",
			wantList: []string{"backup-weekly.v2-2026-11-28_030000", "backup-nightly-29012344-2026-11-29_020000", "backup-nightly-29012345-2026-11-30_020000"}},
		{name: "etcd-backup-server folders",
			dirs:     []string{"2026-11-29_000000", "2026-11-30_000000", "2026-13-01_000000", "tmp"},
			want:     "2026-11-30_000000",
			wantList: []string{"2026-11-29_000000", "2026-11-30_000000"}},
		{name: "two runs in the same second refused",
			dirs:    []string{"backup-a-2026-11-30_020000", "backup-b-2026-11-30_020000", "backup-a-2026-11-29_020000"},
			wantErr: ErrAmbiguous, wantNamed: []string{"backup-a-2026-11-30_020000", "backup-b-2026-11-30_020000"}},
		{name: "a tie resolved by the EtcdBackup name",
			dirs: []string{"backup-a-2026-11-30_020000", "backup-b-2026-11-30_020000", "backup-a-2026-11-29_020000"},
			opts: FolderOptions{BackupName: "a"}, want: "backup-a-2026-11-30_020000", wantName: "a",
			wantList: []string{"backup-a-2026-11-29_020000", "backup-a-2026-11-30_020000"}},
		{name: "no folder", dirs: []string{"lost+found"}, files: []string{"snapshot_2026-11-30_020000.db"},
			wantErr: ErrMissingFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range tc.dirs {
				if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(root, f), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			list, err := Folders(t.Context(), root, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantList != nil {
				var names []string
				for _, f := range list {
					names = append(names, f.Name)
					if f.Path != filepath.Join(root, f.Name) || f.Time.Format(TimestampLayout) != f.Timestamp {
						t.Errorf("folder %+v", f)
					}
				}
				if strings.Join(names, " ") != strings.Join(tc.wantList, " ") {
					t.Errorf("Folders = %v, want %v", names, tc.wantList)
				}
			}
			f, err := LatestFolder(t.Context(), root, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, n := range tc.wantNamed {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("err = %v, want it to name %s", err, n)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Name != tc.want || f.BackupName != tc.wantName || f.Path != filepath.Join(root, tc.want) {
				t.Errorf("LatestFolder = %+v, want %s (EtcdBackup %q)", f, tc.want, tc.wantName)
			}
		})
	}
}
