package offsite

import (
	"bytes"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// Recipient is one recipient of an encrypted object, as the manifest
// records it: no secret, enough to tell which key opens the object.
type Recipient struct {
	// Type is "X25519" (an age1… key) or the SSH key type ("ssh-ed25519",
	// "ssh-rsa").
	Type string `json:"type"`
	// Fingerprint is the age1… public key itself for X25519, and the
	// SHA256 fingerprint ssh-keygen -l prints for an SSH key.
	Fingerprint string `json:"fingerprint"`
}

// parsedRecipients are recipients ready to encrypt to, with their
// manifest descriptions.
type parsedRecipients struct {
	age  []age.Recipient
	desc []Recipient
}

// parseRecipients parses age X25519 public keys ("age1…") and SSH public
// keys ("ssh-ed25519 AAAA…", "ssh-rsa AAAA…", as in authorized_keys).
// option names the keys in the errors (e.g.
// "offsite.UploadOptions.Destination.Recipients").
func parseRecipients(option string, keys []string) (*parsedRecipients, error) {
	if len(keys) == 0 {
		return nil, opterr.New(option, "is required (at least one age or SSH public key)")
	}
	p := &parsedRecipients{}
	for i, k := range keys {
		k = strings.TrimSpace(k)
		switch {
		case strings.HasPrefix(k, "age1"):
			r, err := age.ParseX25519Recipient(k)
			if err != nil {
				return nil, opterr.New(option, "[%d]: %w", i, err)
			}
			p.age = append(p.age, r)
			p.desc = append(p.desc, Recipient{Type: "X25519", Fingerprint: r.String()})
		case strings.HasPrefix(k, "ssh-"):
			r, err := agessh.ParseRecipient(k)
			if err != nil {
				return nil, opterr.New(option, "[%d]: %w", i, err)
			}
			pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
			if err != nil {
				return nil, opterr.New(option, "[%d]: %w", i, err)
			}
			p.age = append(p.age, r)
			p.desc = append(p.desc, Recipient{Type: pk.Type(), Fingerprint: ssh.FingerprintSHA256(pk)})
		default:
			return nil, opterr.New(option, "[%d] is neither an age X25519 key (age1…) nor an SSH public key (ssh-…)", i)
		}
	}
	return p, nil
}

// ParseIdentities parses the private keys that open a backup: the content
// of an age identity file (lines "AGE-SECRET-KEY-1…", comments allowed)
// or of an unencrypted OpenSSH private key (ed25519 or RSA). The result is
// what FetchOptions.Identities takes. Errors never quote the key.
func ParseIdentities(data []byte) ([]age.Identity, error) {
	if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			return nil, opterr.New("offsite.ParseIdentities data", "SSH identity: %w", err)
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		// age's parse errors do not echo the key material.
		return nil, opterr.New("offsite.ParseIdentities data", "age identities: %w", err)
	}
	return ids, nil
}
