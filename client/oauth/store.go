// Package oauth keeps an account's OAuth2 tokens and hands out access
// tokens: refreshed before they expire, renewed when a server refuses
// one, and every refresh token the provider rotates saved (atomically)
// before anything else happens. The sign-in flows themselves (code with
// PKCE, device code) and the refresh are golang.org/x/oauth2's.
//
// Tokens appear in no error this package returns.
package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// Record is what is kept for one account.
type Record struct {
	RefreshToken string    `json:"refresh_token,omitempty"`
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	Obtained     time.Time `json:"obtained,omitzero"` // when the user signed in
}

// ErrNoToken: nothing is stored for the account (never signed in, or
// signed out).
var ErrNoToken = errors.New("no OAuth2 token stored")

// ErrNoKeyring: the system keyring cannot be reached.
var ErrNoKeyring = errors.New("no system keyring is reachable")

// Store keeps records by account name.
type Store interface {
	Load(account string) (*Record, error) // ErrNoToken when there is none
	Save(account string, r *Record) error
	Delete(account string) error // no error when there was nothing
	Where() string               // for the user: "system keyring (Secret Service)", "file /path"
}

// KeyringService is the service name duomail's secrets are filed under.
const KeyringService = "duomail"

// KeyringStore keeps records in the system keyring.
type KeyringStore struct{}

func tokenKey(account string) string { return "oauth2:" + account }

// PasswordKey is the keyring entry of an account's password.
func PasswordKey(account string) string { return "password:" + account }

// KeyringName names the system's keyring for messages.
func KeyringName() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS Keychain"
	case "windows":
		return "Windows Credential Manager"
	}
	return "Secret Service"
}

func (KeyringStore) Where() string { return "system keyring (" + KeyringName() + ")" }

func (KeyringStore) Load(account string) (*Record, error) {
	s, err := KeyringGet(tokenKey(account))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("read the OAuth2 token of account %s from the keyring: the entry is damaged; sign in again", account)
	}
	return &r, nil
}

func (KeyringStore) Save(account string, r *Record) error {
	data, _ := json.Marshal(r)
	err := KeyringSet(tokenKey(account), string(data))
	if errors.Is(err, keyring.ErrSetDataTooBig) {
		// Windows keeps at most 2.5 KB: drop the access token, which a
		// refresh brings back, rather than the refresh token.
		short := *r
		short.AccessToken, short.Expiry = "", time.Time{}
		data, _ = json.Marshal(&short)
		err = KeyringSet(tokenKey(account), string(data))
	}
	return err
}

func (KeyringStore) Delete(account string) error {
	return KeyringDelete(tokenKey(account))
}

// KeyringGet reads a secret; ErrNoToken when the keyring has none, an
// error matching ErrNoKeyring when there is no keyring to ask.
func KeyringGet(key string) (string, error) {
	s, err := keyring.Get(KeyringService, key)
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return "", ErrNoToken
	case err != nil:
		return "", keyringError(err)
	}
	return s, nil
}

// KeyringSet writes a secret.
func KeyringSet(key, secret string) error {
	if err := keyring.Set(KeyringService, key, secret); err != nil {
		if errors.Is(err, keyring.ErrSetDataTooBig) {
			return err
		}
		return keyringError(err)
	}
	return nil
}

// KeyringDelete removes a secret; none there is no error.
func KeyringDelete(key string) error {
	err := keyring.Delete(KeyringService, key)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return keyringError(err)
	}
	return nil
}

// ProbeKeyring says whether the keyring answers, before a sign-in whose
// token would have nowhere to go.
func ProbeKeyring() error {
	_, err := KeyringGet("probe")
	if err == nil || errors.Is(err, ErrNoToken) {
		return nil
	}
	return err
}

func keyringError(err error) error {
	return fmt.Errorf("%w (%s: %v)", ErrNoKeyring, KeyringName(), err)
}

// FileStore keeps each account's record in a 0600 file of its own under
// Dir (0700), written atomically: a crash leaves the old record or the
// new one, never a mix, so a rotated refresh token is never lost halfway.
type FileStore struct{ Dir string }

func (f FileStore) path(account string) string { return filepath.Join(f.Dir, account+".json") }

func (f FileStore) Where() string {
	return "file " + f.Dir + string(filepath.Separator) + "ACCOUNT.json"
}

// Path is the file of one account.
func (f FileStore) Path(account string) string { return f.path(account) }

func (f FileStore) Load(account string) (*Record, error) {
	data, err := os.ReadFile(f.path(account))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoToken
	}
	if err != nil {
		return nil, fmt.Errorf("read OAuth2 token file: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read OAuth2 token file %s: damaged; sign in again", f.path(account))
	}
	return &r, nil
}

func (f FileStore) Save(account string, r *Record) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("save OAuth2 token: %w", err)
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	tmp, err := os.CreateTemp(f.Dir, "."+account+".*.tmp")
	if err != nil {
		return fmt.Errorf("save OAuth2 token: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up a failure
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("save OAuth2 token: %w", err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path(account))
	}
	if err == nil {
		err = syncDir(f.Dir)
	}
	if err != nil {
		return fmt.Errorf("save OAuth2 token: %w", err)
	}
	return nil
}

func (f FileStore) Delete(account string) error {
	err := os.Remove(f.path(account))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove OAuth2 token file: %w", err)
	}
	return nil
}

// syncDir makes a rename durable; directories cannot be synced on Windows.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
