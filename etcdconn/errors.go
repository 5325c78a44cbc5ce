package etcdconn

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for the ways building a client fails; check with errors.Is.
// Settings wrong in themselves (none, or one that does not parse) are the
// one invalid-options kind of every package, lifeboat.ErrInvalidOptions
// carried by a *lifeboat.OptionsError naming the variable or Config field.
// Unusable files are a *ConfigError (naming the setting and file),
// connection problems a *ConnectError (naming the endpoints).
var (
	// ErrNoEndpoints: no endpoint was given (ETCDCTL_ENDPOINTS unset or
	// empty). It is the cause of a *lifeboat.OptionsError: errors.Is
	// matches both it and lifeboat.ErrInvalidOptions.
	ErrNoEndpoints = errors.New("no etcd endpoints")
	// ErrCA: the CA bundle cannot be read or holds no PEM certificate.
	ErrCA = errors.New("unusable CA bundle")
	// ErrKeyPair: the client certificate or key cannot be read, does not
	// parse, the two do not match, or only one of them is given.
	ErrKeyPair = errors.New("unusable client certificate and key")
	// ErrUnreachable: no endpoint answered a status request within the dial
	// timeout.
	ErrUnreachable = errors.New("no etcd endpoint reachable")
	// ErrServerUntrusted: an endpoint's certificate is not signed by the CA
	// bundle (or does not name the endpoint's host). Wrapped together with
	// ErrUnreachable.
	ErrServerUntrusted = errors.New("etcd server certificate not trusted")
	// ErrClientRejected: an endpoint refused the client certificate (wrong CA,
	// expired, or no certificate given to a server that requires one).
	// Wrapped together with ErrUnreachable.
	ErrClientRejected = errors.New("client certificate rejected by etcd")
	// ErrOnlyLearners: the only endpoints that answered are learners,
	// members that do not vote yet and refuse linearizable requests and
	// member management ("etcdserver: rpc not supported for learner").
	// Wrapped together with ErrUnreachable.
	ErrOnlyLearners = errors.New("only etcd learners answered")
)

// ConfigError reports a setting New or FromEnv cannot use.
type ConfigError struct {
	// Setting is the environment variable (FromEnv, e.g. "ETCDCTL_CACERT")
	// or the Config field (New, e.g. "Config.CAFile") at fault.
	Setting string
	// Path is the file involved, if any.
	Path string
	// Kind is the sentinel: ErrCA or ErrKeyPair.
	Kind error
	// Err is the underlying cause (may be nil).
	Err error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("etcdconn: ")
	b.WriteString(e.Setting)
	if e.Path != "" {
		fmt.Fprintf(&b, " (%s)", e.Path)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is matches Kind, the sentinel of this error's kind (see package
// lifeboat, Errors); Unwrap gives the cause, so errors.Is matches both
// (errors.Is(err, ErrCA), errors.Is(err, fs.ErrNotExist)).
func (e *ConfigError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Unwrap returns the cause (nil when there is none).
func (e *ConfigError) Unwrap() error { return e.Err }

// ConnectError reports that the client could not talk to any endpoint.
type ConnectError struct {
	Endpoints []string
	// Kind is ErrServerUntrusted or ErrClientRejected when a TLS handshake
	// explains the failure, ErrOnlyLearners when only learners answered,
	// else nil.
	Kind error
	// Err is what the last attempt returned.
	Err error
	// Hint names the setting to look at, when Kind points at one.
	Hint string
}

func (e *ConnectError) Error() string {
	msg := fmt.Sprintf("etcdconn: %s (%s)", ErrUnreachable, strings.Join(e.Endpoints, ","))
	if e.Kind != nil {
		msg += ": " + e.Kind.Error()
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Is matches ErrUnreachable and Kind, this error's kinds (see package
// lifeboat, Errors).
func (e *ConnectError) Is(target error) bool {
	return target == ErrUnreachable || (e.Kind != nil && target == e.Kind)
}

// Unwrap returns what the last attempt returned.
func (e *ConnectError) Unwrap() error { return e.Err }
