package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/duomail/duomail/client"
)

// RefreshMargin: an access token with less life left than this is
// refreshed before use, so it cannot expire between being handed out and
// reaching the server (or during a long POP3 session's first command).
const RefreshMargin = 2 * time.Minute

// Source hands out the access tokens of one account.
type Source struct {
	Account string
	Config  *oauth2.Config
	Store   Store
	// HTTP talks to the provider; nil for a client bounded by 30 s.
	HTTP *http.Client
	// Now is the clock; nil for time.Now.
	Now func() time.Time

	mu sync.Mutex
}

// LoginHint is what the user is told to run when the tokens are gone.
func LoginHint(account string) string {
	return fmt.Sprintf("run `duomail auth login -a %s`", account)
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Source) client() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Token returns an access token with some life left, refreshing it when
// it has little or none, or when renew says the server refused the last
// one. The refreshed tokens are saved before the access token is
// returned, so a rotated refresh token is on disk (or in the keyring)
// before anyone can use the access token that came with it.
func (s *Source) Token(ctx context.Context, renew bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.Store.Load(s.Account)
	if errors.Is(err, ErrNoToken) {
		return "", fmt.Errorf("account %s: %w: not signed in; %s", s.Account, client.ErrAuth, LoginHint(s.Account))
	}
	if err != nil {
		return "", fmt.Errorf("account %s: %w: %w", s.Account, client.ErrAuth, err)
	}
	if !renew && rec.AccessToken != "" && rec.Expiry.After(s.now().Add(RefreshMargin)) {
		return rec.AccessToken, nil
	}
	if rec.RefreshToken == "" {
		return "", fmt.Errorf("account %s: %w: the access token has expired and the provider gave no refresh token; %s", s.Account, client.ErrAuth, LoginHint(s.Account))
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client())
	tok, err := s.Config.TokenSource(ctx, &oauth2.Token{RefreshToken: rec.RefreshToken}).Token()
	if err != nil {
		return "", RefreshError(s.Account, err)
	}
	next := FromToken(tok, rec)
	if err := s.Store.Save(s.Account, next); err != nil {
		if next.RefreshToken != rec.RefreshToken {
			return "", fmt.Errorf("account %s: the provider replaced the refresh token, and the new one could not be saved (%w); %s", s.Account, err, LoginHint(s.Account))
		}
		return "", fmt.Errorf("account %s: save the refreshed OAuth2 token: %w", s.Account, err)
	}
	return next.AccessToken, nil
}

// FromToken makes the record of a token the provider just gave. A
// provider that sends no new refresh token keeps the old one valid, so
// prev's is kept; scopes and the sign-in time carry over likewise.
func FromToken(tok *oauth2.Token, prev *Record) *Record {
	r := &Record{
		RefreshToken: tok.RefreshToken,
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		Expiry:       tok.Expiry,
	}
	if scope, ok := tok.Extra("scope").(string); ok && scope != "" {
		r.Scopes = strings.Fields(scope)
	}
	if prev != nil {
		if r.RefreshToken == "" {
			r.RefreshToken = prev.RefreshToken
		}
		if r.Scopes == nil {
			r.Scopes = prev.Scopes
		}
		r.Obtained = prev.Obtained
	}
	return r
}

// RefreshError explains a failed refresh. The provider's refusal
// (revoked, expired, wrong tenant or client) is an authentication error
// whose cure is to sign in again; not reaching the provider is a network
// error. Neither quotes a token.
func RefreshError(account string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("account %s: %w: refreshing the OAuth2 token failed (the provider said %s); %s", account, client.ErrAuth, providerSaid(re), LoginHint(account))
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("account %s: refresh the OAuth2 token: %w: %w", account, client.ErrNetwork, err)
	}
	return fmt.Errorf("account %s: %w: refresh the OAuth2 token: %w", account, client.ErrAuth, err)
}

// providerSaid is a token endpoint's refusal in one line: its error code
// (or HTTP status) and the first line of its description.
func providerSaid(re *oauth2.RetrieveError) string {
	why := re.ErrorCode
	if why == "" && re.Response != nil {
		why = re.Response.Status
	}
	if re.ErrorDescription != "" {
		// Microsoft's descriptions run to several lines of trace IDs.
		desc, _, _ := strings.Cut(re.ErrorDescription, "\n")
		why += ": " + strings.TrimSpace(desc)
	}
	return why
}
