package offsite

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// urlQueryParams are the query parameters each gocloud.dev/blob driver
// offsite names (see Destination) accepts in a bucket URL, for the
// gocloud.dev version in go.mod. A driver refuses any other parameter
// only when it opens the bucket, with an untyped error that quotes the
// whole URL; Validate refuses it first, without I/O. Opening the bucket
// to ask the driver is not done: it is not free of I/O for every scheme
// (file:// creates the directory with create_dir and reads
// secret_key_path's file, gs:// looks for Application Default
// Credentials, which may ask the GCE metadata server, and s3:// reads
// the shared AWS configuration files). TestURLQueryParamsMatchDrivers
// opens each driver with each of these and with an unknown one, so a
// gocloud.dev upgrade that changes a list fails the tests. Schemes of
// other drivers a program registers are not checked here; their driver
// refuses at opening, before anything is uploaded.
var urlQueryParams = map[string][]string{
	// s3blob's own, then gocloud.dev/aws's V2ConfigFromURLParams.
	"s3": {"accelerate", "disable_https", "kmskeyid", "s3ForcePathStyle", "ssetype", "use_path_style",
		"anonymous", "awssdk", "dualstack", "endpoint", "fips", "hostname_immutable", "profile", "rate_limiter_capacity",
		"region", "request_checksum_calculation", "response_checksum_validation", "role"},
	"file":   {"base_url", "create_dir", "dir_file_mode", "metadata", "no_tmp_dir", "secret_key_path"},
	"azblob": {"cdn", "domain", "localemu", "protocol", "storage_account"},
	"gs":     {"access_id", "anonymous", "grpc", "private_key_path", "universe_domain", "zonal"},
}

// checkURLQuery refuses a query that does not parse, a parameter given
// twice (the drivers would silently use one of the values) and, for the
// schemes of urlQueryParams, a parameter the driver does not accept. The
// errors name the parameter and the accepted ones, never a value: a
// value may be a secret.
func checkURLQuery(u *url.URL) error {
	if u.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return errors.New("has a query that does not parse (values not shown)")
	}
	names := make([]string, 0, len(q))
	for n := range q {
		names = append(names, n)
	}
	slices.Sort(names)
	accepted, known := urlQueryParams[u.Scheme]
	for _, n := range names {
		if known && !slices.Contains(accepted, n) {
			return fmt.Errorf("has query parameter %q, which %s:// does not accept; it accepts %s", n, u.Scheme, strings.Join(accepted, ", "))
		}
		if len(q[n]) > 1 {
			return fmt.Errorf("gives query parameter %q %d times (values not shown); give it once", n, len(q[n]))
		}
	}
	return nil
}
