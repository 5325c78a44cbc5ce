package restore_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/inprocess"
)

// Restore from a destination: the plan's verify-backup step fetches the
// newest verified backup, decrypted and verified, before it touches any
// host. The other options are those of a restore from a local directory.
func ExampleRun_fromDestination() {
	// The age identity file or unencrypted OpenSSH private key, kept off
	// the cluster; offsite.ParseIdentities reads both forms.
	key, err := os.ReadFile("backup-identity.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	identities, err := offsite.ParseIdentities(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	deps := restore.Deps{
		InProcess: inprocess.WriteDataDir,
		// Recovery, Others, Kube, Operator, ... as for any restore.
	}
	opts := restore.Options{
		Source: &offsite.RestoreSource{Options: offsite.FetchOptions{
			Source:     offsite.Destination{URL: "s3://backups?region=eu-west-1", Prefix: "clusters/prod"},
			Identities: identities,
		}},
	}
	_, err = restore.Run(context.Background(), deps, opts, plan.RunOptions{})
	fmt.Println(err)
}
