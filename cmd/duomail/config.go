package main

import "github.com/duomail/duomail/client/config"

// The configuration (file, environment overrides, --url) is read and
// checked by package config; these names keep the commands' code short.
type (
	Config        = config.Config
	AccountConfig = config.Account
)

func defaultPaths(getenv config.Getenv) config.Paths { return config.DefaultPaths(getenv) }

// parseAccountURL reads a --url (or an account argument written as one).
func (a *app) parseAccountURL(raw string) (*AccountConfig, error) {
	return config.ParseURL(raw, a.getenv)
}

// accountURL formats an account as the --url that reaches it.
func accountURL(ac *AccountConfig) string { return ac.URL() }
