package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	// offsite opens s3:// and file:// itself; this command also takes
	// azblob:// and gs:// destinations, so it links their drivers.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"

	"github.com/lifeboat-dev/lifeboat/backup/offsite"
)

// offsiteFlags are the flags of an off-site backup.
type offsiteFlags struct {
	destination, prefix            string
	recipients                     []string
	recipientsFile                 string
	resDestination, resPrefix      string
	resRecipients                  []string
	resRecipientsFile              string
	zstdLevel                      int
	readBack                       bool
	partSizeMiB, uploadConcurrency int
}

func (o *offsiteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.destination, "destination", "", "stream the backup to this bucket URL (s3://bucket?region=r, azblob://container, gs://bucket, file:///dir), compressed and encrypted; credentials from the storage's standard environment (AWS_ACCESS_KEY_ID, ...). With a <backup-dir> too, the backup is also written there in the same pass")
	fs.StringVar(&o.prefix, "prefix", "", "key prefix in the destination bucket (e.g. clusters/prod)")
	fs.Func("recipient", "age (age1...) or SSH public key to encrypt to (repeatable)", func(s string) error { o.recipients = append(o.recipients, s); return nil })
	fs.StringVar(&o.recipientsFile, "recipients-file", "", "file of age or SSH public keys to encrypt to, one per line (# comments)")
	fs.StringVar(&o.resDestination, "resources-destination", "", "bucket URL for static_kuberesources (it holds the etcd encryption keys); empty means -destination")
	fs.StringVar(&o.resPrefix, "resources-prefix", "", "key prefix for static_kuberesources (needs -resources-destination)")
	fs.Func("resources-recipient", "public key static_kuberesources is encrypted to instead of -recipient (repeatable)", func(s string) error { o.resRecipients = append(o.resRecipients, s); return nil })
	fs.StringVar(&o.resRecipientsFile, "resources-recipients-file", "", "file of public keys static_kuberesources is encrypted to instead of -recipient")
	fs.IntVar(&o.zstdLevel, "zstd-level", 0, fmt.Sprintf("zstd level 1-22 (0: %d, %d: no compression)", offsite.DefaultZstdLevel, offsite.NoCompression))
	fs.BoolVar(&o.readBack, "read-back", false, "re-read every stored object and check its sha256 before the backup is made visible")
	fs.IntVar(&o.partSizeMiB, "part-size-mib", 0, "multipart upload part size in MiB (0: the storage driver's default)")
	fs.IntVar(&o.uploadConcurrency, "upload-concurrency", 0, fmt.Sprintf("parts uploaded at once (0: %d)", offsite.DefaultStreamConcurrency))
}

// set reports whether an off-site backup was asked for.
func (o *offsiteFlags) set() bool { return o.destination != "" }

// validated returns the destinations when set, checked as the upload will
// check them; nothing when the flags are not set.
func (o *offsiteFlags) validated() (dest offsite.Destination, res *offsite.Destination, err error) {
	if !o.set() {
		return dest, nil, nil
	}
	if dest, res, err = o.options(); err != nil {
		return dest, nil, err
	}
	uo := offsite.UploadOptions{Destination: dest, Resources: res, ZstdLevel: o.zstdLevel, PartSize: o.partSizeMiB << 20}
	return dest, res, uo.Validate()
}

// options turns the flags into the destinations of offsite.Stream.
func (o *offsiteFlags) options() (dest offsite.Destination, res *offsite.Destination, err error) {
	rcp := o.recipients
	if o.recipientsFile != "" {
		keys, err := readKeys(o.recipientsFile)
		if err != nil {
			return dest, nil, err
		}
		rcp = append(rcp, keys...)
	}
	dest = offsite.Destination{URL: o.destination, Prefix: o.prefix, Recipients: rcp}
	resRcp := o.resRecipients
	if o.resRecipientsFile != "" {
		keys, err := readKeys(o.resRecipientsFile)
		if err != nil {
			return dest, nil, err
		}
		resRcp = append(resRcp, keys...)
	}
	switch {
	case o.resDestination != "" || len(resRcp) > 0:
		if len(resRcp) == 0 {
			resRcp = rcp
		}
		res = &offsite.Destination{URL: o.resDestination, Prefix: o.resPrefix, Recipients: resRcp}
	case o.resPrefix != "":
		return dest, nil, errors.New("-resources-prefix needs -resources-destination")
	}
	return dest, res, nil
}

// readKeys reads public keys, one per line, skipping blanks and comments.
func readKeys(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			keys = append(keys, l)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no public key", path)
	}
	return keys, sc.Err()
}
