package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gologout/logout"
)

// Defaults of [Options].
const (
	// DefaultMaxTokenAge is the default of [Options.MaxTokenAge].
	DefaultMaxTokenAge = 2 * time.Minute
	// DefaultLeeway is the default of [Options.Leeway].
	DefaultLeeway = 30 * time.Second
	// DefaultCookieName is the default of [Options.CookieName].
	DefaultCookieName = "logout_oidc"
)

// Options configure an [RP]. Issuer, ClientID and, unless
// KeepProviderSession is set, PostLogoutRedirectURL are required; every
// other field states its default.
type Options struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document and its tokens write it (a trailing slash counts).
	// Required.
	Issuer string
	// ClientID is the client ID that the provider issued the application:
	// ID tokens and logout tokens must name it in their audience.
	// Required.
	ClientID string
	// KeySet checks the signatures of ID tokens and logout tokens.
	// Default: the provider's published keys (its jwks_uri, from
	// discovery), fetched again when a token names a key not yet seen.
	KeySet gooidc.KeySet
	// Algorithms are the JWS algorithms accepted. Default: those that
	// the provider's discovery document lists for ID tokens, else RS256.
	// "none" and the HMAC algorithms are never accepted.
	Algorithms []string
	// EndSessionEndpoint is the provider's end_session_endpoint for
	// RP-initiated logout. Default: from discovery.
	EndSessionEndpoint string
	// PostLogoutRedirectURL is the absolute URL where the application
	// mounts [RP.PostLogout], registered at the provider as a post-logout
	// redirect URI. Required unless KeepProviderSession is set.
	PostLogoutRedirectURL string
	// KeepProviderSession, when true, leaves the provider session alone
	// when a Logout session ends: the next sign-in then asks for a fresh
	// authentication (prompt=login and max_age=0, see
	// [RP.AuthCodeOptions]) instead. Default false: the provider session
	// is ended by RP-initiated logout when the browser comes back
	// ([RP.EndProviderSession]), and a fresh authentication is asked for
	// as well. Either way [RP.SignIn] refuses an ID token whose auth_time
	// is not after the user's last ended session.
	KeepProviderSession bool
	// MaxAuthAge, when more than 0, is the longest time since the
	// person last authenticated at the provider (the ID token's
	// auth_time) that a sign-in accepts: every authorization request
	// carries max_age, and [RP.SignIn] refuses an older authentication
	// with [ErrReauthenticate], so that a provider session, however long,
	// signs no one in here without a password this long after it was
	// given (OWASP ASVS 5.0, V7.6.1). Default 0: no bound besides the
	// check against ended sessions.
	MaxAuthAge time.Duration
	// CookieKey seals the cookies that carry the ID token (for the
	// id_token_hint of RP-initiated logout) and the post-logout state, with
	// AES-256-GCM under a key derived from it. At least 32 bytes. Every
	// instance of an application must have the same key. Default (nil): a
	// random key per process, so a cookie sealed by another instance or
	// before a restart does not open; the provider session is then not
	// ended, and the check of auth_time at the next sign-in still asks
	// for a fresh authentication.
	CookieKey []byte
	// CookieName names the ID token cookie; the reauthentication marker
	// is CookieName + "_reauth". Under TLS (or with Secure) both get the
	// "__Host-" prefix. Default [DefaultCookieName].
	CookieName string
	// Secure marks the cookies Secure with the "__Host-" prefix even for
	// plain-HTTP requests, for servers behind a TLS-terminating proxy.
	Secure bool
	// MaxTokenAge is how old a logout token may be: its iat must be
	// within MaxTokenAge (plus Leeway) before now. Default
	// [DefaultMaxTokenAge].
	MaxTokenAge time.Duration
	// Leeway is the clock skew allowed with the provider: how far in the
	// future iat, and how far in the past exp, may be. Default
	// [DefaultLeeway].
	Leeway time.Duration
	// FrontChannelWithoutIssuer makes [RP.FrontChannel] accept a request
	// with a sid and no iss, as Microsoft Entra ID sends them; the sid is
	// then taken to be Issuer's. An iss that is there must still be
	// Issuer. Default false: iss is required, as the specification says.
	FrontChannelWithoutIssuer bool
	// Replay remembers the logout tokens already used (their jti). Default:
	// [NewMemoryReplayCache], which one process holds; see [ReplayCache]
	// for many processes.
	Replay ReplayCache
	// Now is the clock; give it the Now of the Manager's
	// [logout.Options.Clock]. Default time.Now. The RP only reads it: it
	// waits on no timer.
	Now func() time.Time
	// Logger receives the reasons for refused tokens and failures, never
	// a token. Default slog.Default().
	Logger *slog.Logger
	// HTTPClient fetches the discovery document and the keys. Default
	// http.DefaultClient.
	HTTPClient *http.Client
}

// An RP connects a [logout.Manager] to an OpenID provider: the application
// signs users in with OpenID Connect and calls [RP.SignIn]; sessions that
// end are not brought back by the provider's session, and sessions that
// the provider ends end here. An RP is safe for concurrent use.
type RP struct {
	m          *logout.Manager
	opts       Options
	keys       gooidc.KeySet
	algs       []string
	verifier   *gooidc.IDTokenVerifier
	endSession string
	seal       sealer
	replay     ReplayCache
	log        *slog.Logger
	now        func() time.Time
}

// discovery is the part of the provider's discovery document that New
// reads beyond go-oidc's.
type discovery struct {
	EndSession string   `json:"end_session_endpoint"`
	JWKS       string   `json:"jwks_uri"`
	Algs       []string `json:"id_token_signing_alg_values_supported"`
}

// asymmetric lists the JWS algorithms an RP can accept: public-key
// signatures only.
var asymmetric = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512, gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512, gooidc.EdDSA,
}

// New returns an RP for m. It reads the provider's discovery document
// (with ctx) when KeySet or, unless KeepProviderSession is set,
// EndSessionEndpoint is not given, and fails when it cannot, or when the
// Options are not valid.
func New(ctx context.Context, m *logout.Manager, opts Options) (*RP, error) {
	if m == nil {
		return nil, errors.New("oidc: nil Manager")
	}
	if opts.Issuer == "" || opts.ClientID == "" {
		return nil, errors.New("oidc: Issuer and ClientID are required")
	}
	if u, err := url.Parse(opts.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidc: Issuer %q is not an http(s) URL", opts.Issuer)
	}
	if opts.CookieKey != nil && len(opts.CookieKey) < 32 {
		return nil, errors.New("oidc: CookieKey must have at least 32 bytes")
	}
	if opts.MaxTokenAge < 0 || opts.Leeway < 0 || opts.MaxAuthAge < 0 {
		return nil, errors.New("oidc: MaxTokenAge, Leeway and MaxAuthAge must not be negative")
	}
	if opts.MaxTokenAge == 0 {
		opts.MaxTokenAge = DefaultMaxTokenAge
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.CookieName == "" {
		opts.CookieName = DefaultCookieName
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Replay == nil {
		opts.Replay = NewMemoryReplayCache(0)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	for _, a := range opts.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return nil, fmt.Errorf("oidc: algorithm %q is not accepted (only public-key signatures are)", a)
		}
	}

	rp := &RP{m: m, opts: opts, keys: opts.KeySet, algs: opts.Algorithms, endSession: opts.EndSessionEndpoint,
		replay: opts.Replay, log: opts.Logger, now: opts.Now}
	if rp.keys == nil || (rp.endSession == "" && !opts.KeepProviderSession) {
		// The keys are fetched later, on the requests that need them:
		// they must outlive ctx.
		hctx := gooidc.ClientContext(context.WithoutCancel(ctx), opts.HTTPClient)
		p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, opts.HTTPClient), opts.Issuer)
		if err != nil {
			return nil, fmt.Errorf("oidc: discovery: %w", err)
		}
		var d discovery
		if err := p.Claims(&d); err != nil {
			return nil, fmt.Errorf("oidc: discovery: %w", err)
		}
		if rp.keys == nil {
			rp.keys = gooidc.NewRemoteKeySet(hctx, d.JWKS)
		}
		if rp.endSession == "" {
			rp.endSession = d.EndSession
		}
		if rp.algs == nil {
			for _, a := range d.Algs {
				if slices.Contains(asymmetric, a) {
					rp.algs = append(rp.algs, a)
				}
			}
		}
	}
	if len(rp.algs) == 0 {
		rp.algs = []string{gooidc.RS256}
	}
	if !opts.KeepProviderSession {
		if rp.endSession == "" {
			return nil, errors.New("oidc: the provider has no end_session_endpoint: set KeepProviderSession")
		}
		if u, err := url.Parse(rp.endSession); err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("oidc: EndSessionEndpoint %q is not an absolute URL", rp.endSession)
		}
		if u, err := url.Parse(opts.PostLogoutRedirectURL); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, fmt.Errorf("oidc: PostLogoutRedirectURL %q must be an absolute URL without a fragment", opts.PostLogoutRedirectURL)
		}
	}
	key := opts.CookieKey
	if key == nil {
		key = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, key); err != nil {
			return nil, fmt.Errorf("oidc: cookie key: %w", err)
		}
	}
	var err error
	if rp.seal, err = newSealer(key); err != nil {
		return nil, err
	}
	rp.verifier = gooidc.NewVerifier(opts.Issuer, rp.keys, &gooidc.Config{
		ClientID:             opts.ClientID,
		SupportedSigningAlgs: rp.algs,
		Now:                  opts.Now,
	})
	return rp, nil
}

// SessionTag returns the [logout.User.Tags] label of the sessions that
// signed in through the provider session sid of issuer: "oidc:sid:" and
// the hex SHA-256 of the issuer, a space and sid, so that no provider
// value is stored as it is and every tag has the same length (73 bytes).
func SessionTag(issuer, sid string) string { return tag("oidc:sid:", issuer, sid) }

// SubjectTag returns the [logout.User.Tags] label of the sessions of the
// provider's subject sub of issuer, made as [SessionTag] makes its tags.
func SubjectTag(issuer, sub string) string { return tag("oidc:sub:", issuer, sub) }

func tag(prefix, issuer, v string) string {
	h := sha256.Sum256([]byte(issuer + " " + v))
	return prefix + hex.EncodeToString(h[:])
}

// short returns a prefix of a tag's hash, to name it in logs.
func short(tag string) string {
	if i := strings.LastIndexByte(tag, ':'); i >= 0 && len(tag) >= i+13 {
		return tag[:i+13]
	}
	return tag
}
