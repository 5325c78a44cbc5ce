// Package jsonkeys refuses JSON documents that give one key twice in an
// object. encoding/json keeps the last value silently; other readers (jq,
// Python, a person) may take the first, so a manifest with a repeated key
// does not say one thing.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Unique returns an error naming the first key given twice in one object
// of the JSON document b, or nil. A document that is not valid JSON is an
// error too (the caller has usually parsed it already).
func Unique(b []byte) error {
	return unique(json.NewDecoder(bytes.NewReader(b)))
}

// unique reads one JSON value from d.
func unique(d *json.Decoder) error {
	t, err := d.Token()
	if err != nil {
		return err
	}
	switch t {
	case json.Delim('{'):
		seen := map[string]bool{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			if seen[key] {
				return fmt.Errorf("key %q given twice", key)
			}
			seen[key] = true
			if err := unique(d); err != nil {
				return err
			}
		}
		_, err = d.Token() // '}'
		return err
	case json.Delim('['):
		for d.More() {
			if err := unique(d); err != nil {
				return err
			}
		}
		_, err = d.Token() // ']'
		return err
	}
	return nil
}
