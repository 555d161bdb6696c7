package payments

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Payout accounts (DESIGN.md section 9.4): a seller or organizer connects
// one account at the provider, to which their proceeds are paid out. The
// service keeps one per user (payout_accounts) with its state, pending or
// enabled, refreshed from the provider whenever it is read and, once the
// webhook endpoint calls it, by AccountUpdated.

// The states of a payout account.
const (
	// AccountPending: created, but the provider cannot pay out to it yet
	// (Stripe: onboarding not finished).
	AccountPending = "pending"
	// AccountEnabled: payouts can be made to it.
	AccountEnabled = "enabled"
)

// AccountProvider creates and reads payout accounts. The sandbox and the
// Stripe provider implement it; the service uses Config.Provider's when it
// does.
type AccountProvider interface {
	// CreateAccount creates a payout account, once per idempotency key.
	CreateAccount(ctx context.Context, req AccountRequest) (ProviderAccount, error)
	// AccountState reads an account's state as the provider has it.
	AccountState(ctx context.Context, accountID string) (ProviderAccount, error)
	// OnboardingLink returns a link where the account's owner finishes
	// onboarding, and which sends them back to returnURL (done or left)
	// or refreshURL (the link expired: make a new one). "" when the
	// provider needs no onboarding.
	OnboardingLink(ctx context.Context, accountID, returnURL, refreshURL string) (string, error)
}

// AccountRequest is a payout account to create.
type AccountRequest struct {
	UserID, Email  string
	IdempotencyKey string
}

// ProviderAccount is a payout account at the provider.
type ProviderAccount struct {
	ID     string
	Status string // AccountPending or AccountEnabled
}

// Account is a user's payout account as the API shows it.
type Account struct {
	UserID    string
	Provider  string
	AccountID string
	Status    string
	// ReturnURL and RefreshURL are the web client's pages an onboarding
	// link sends the user back to.
	ReturnURL, RefreshURL string
	// OnboardingURL is a fresh onboarding link while the account is
	// pending (never stored: Stripe's expire within minutes).
	OnboardingURL        string
	CreatedAt, UpdatedAt time.Time
}

// ErrNoAccount is a user without a payout account.
var ErrNoAccount = fault.New(fault.NotFound, "No payout account")

// errAccountUnavailable: the provider did not answer a payout account's
// creation (a retry uses the same idempotency key).
var errAccountUnavailable = fault.New(fault.Unavailable, "The payment provider did not answer; please try again")

// errNoAccounts: the provider in use cannot make payout accounts.
var errNoAccounts = fault.New(fault.Invalid, "The payment provider has no payout accounts")

// accountProvider is the provider's AccountProvider, or nil.
func (s *Service) accountProvider() AccountProvider {
	ap, _ := s.cfg.Provider.(AccountProvider)
	return ap
}

// checkReturnURL accepts "" or an absolute http(s) URL.
func checkReturnURL(p *fault.Problems, field, v string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	if len(v) > 2048 || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Add(field, "Must be an absolute http(s) URL")
	}
}

// ConnectAccount gives userID a payout account at the provider, or returns
// the one they have (created reports which). The provider's account is
// created under the key "payout-account-"+userID, so two requests at once,
// or a retry after a failure between the provider and the database, make
// one account.
func (s *Service) ConnectAccount(ctx context.Context, userID, email, returnURL, refreshURL string) (a Account, created bool, err error) {
	returnURL, refreshURL = strings.TrimSpace(returnURL), strings.TrimSpace(refreshURL)
	var p fault.Problems
	checkReturnURL(&p, "returnUrl", returnURL)
	checkReturnURL(&p, "refreshUrl", refreshURL)
	if s.cfg.Provider.Name() == "stripe" {
		// Stripe's onboarding link must send the user back somewhere.
		if returnURL == "" {
			p.Add("returnUrl", "Return URL is required")
		}
		if refreshURL == "" {
			p.Add("refreshUrl", "Refresh URL is required")
		}
	}
	if err := p.Err(); err != nil {
		return Account{}, false, err
	}
	if a, err := s.store.QueryAccount(ctx, userID); err == nil {
		a, err = s.refreshAccount(ctx, a)
		return a, false, err
	} else if !errors.Is(err, sqldb.ErrNotFound) {
		return Account{}, false, fmt.Errorf("connect account: %w", err)
	}
	ap := s.accountProvider()
	if ap == nil {
		return Account{}, false, errNoAccounts
	}
	pa, err := ap.CreateAccount(ctx, AccountRequest{UserID: userID, Email: email,
		IdempotencyKey: "payout-account-" + userID})
	if err != nil {
		return Account{}, false, fmt.Errorf("connect account: %w", providerFault(err))
	}
	now := s.cfg.Now()
	a = Account{UserID: userID, Provider: s.cfg.Provider.Name(), AccountID: pa.ID, Status: pa.Status,
		ReturnURL: returnURL, RefreshURL: refreshURL, CreatedAt: now, UpdatedAt: now}
	err = s.db.WithTx(ctx, func(tx *sqldb.Tx) error { return s.store.InsertAccount(ctx, tx, a) })
	if errors.Is(err, sqldb.ErrConflict) {
		// Another request of the same user got there first (the same
		// account, by the idempotency key).
		a, err = s.store.QueryAccount(ctx, userID)
		if err != nil {
			return Account{}, false, fmt.Errorf("connect account: %w", err)
		}
		a, err = s.refreshAccount(ctx, a)
		return a, false, err
	}
	if err != nil {
		return Account{}, false, fmt.Errorf("connect account: %w", err)
	}
	a, err = s.withLink(ctx, a)
	return a, true, err
}

// MyAccount returns userID's payout account, its state refreshed from the
// provider (ErrNoAccount when they have none).
func (s *Service) MyAccount(ctx context.Context, userID string) (Account, error) {
	a, err := s.store.QueryAccount(ctx, userID)
	if errors.Is(err, sqldb.ErrNotFound) {
		return Account{}, ErrNoAccount
	}
	if err != nil {
		return Account{}, fmt.Errorf("payout account: %w", err)
	}
	return s.refreshAccount(ctx, a)
}

// refreshAccount asks the provider for a pending account's state (an
// enabled account stays enabled here; the webhook may say otherwise),
// records a change, and adds an onboarding link while it stays pending.
// A provider that does not answer leaves the stored state, logged: the
// page still shows the account.
func (s *Service) refreshAccount(ctx context.Context, a Account) (Account, error) {
	ap := s.accountProvider()
	if a.Status == AccountEnabled || ap == nil || a.Provider != s.cfg.Provider.Name() {
		return a, nil
	}
	pa, err := ap.AccountState(ctx, a.AccountID)
	if err != nil {
		s.log.Warn("read payout account", "user_id", a.UserID, "account_id", a.AccountID, "err", err)
		return a, nil
	}
	if pa.Status != a.Status {
		if err := s.setAccountStatus(ctx, a.AccountID, pa.Status); err != nil {
			return Account{}, err
		}
		a.Status = pa.Status
	}
	return s.withLink(ctx, a)
}

// withLink adds a fresh onboarding link to a pending account.
func (s *Service) withLink(ctx context.Context, a Account) (Account, error) {
	ap := s.accountProvider()
	if a.Status != AccountPending || ap == nil || a.Provider != s.cfg.Provider.Name() {
		return a, nil
	}
	link, err := ap.OnboardingLink(ctx, a.AccountID, a.ReturnURL, a.RefreshURL)
	if err != nil {
		s.log.Warn("onboarding link", "user_id", a.UserID, "account_id", a.AccountID, "err", err)
		return a, nil
	}
	a.OnboardingURL = link
	return a, nil
}

func (s *Service) setAccountStatus(ctx context.Context, accountID, status string) error {
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		return s.store.SetAccountStatus(ctx, tx, accountID, status, s.cfg.Now())
	})
	if err != nil {
		return fmt.Errorf("set payout account %s %s: %w", accountID, status, err)
	}
	return nil
}

// AccountUpdated records the state the provider reports for a payout
// account, by the provider's account id: the webhook endpoint calls it
// on Stripe's account.updated with StripeAccountStatus(the event's
// account). An account nobody here has is ignored (nil: it may belong to
// another platform, or a delivery for an account not yet stored; the
// next read refreshes from the provider anyway). Applying the same state
// twice, or deliveries out of order, is harmless: each sets the state the
// provider had then, and reads refresh a pending account again.
func (s *Service) AccountUpdated(ctx context.Context, accountID, status string) error {
	if status != AccountPending && status != AccountEnabled {
		return fmt.Errorf("account updated: unknown status %q", status)
	}
	return s.setAccountStatus(ctx, accountID, status)
}

// StripeAccountStatus reads a Stripe account's state: enabled once its
// details are submitted and payouts are enabled.
func StripeAccountStatus(a *stripe.Account) string {
	if a != nil && a.DetailsSubmitted && a.PayoutsEnabled {
		return AccountEnabled
	}
	return AccountPending
}

// providerFault keeps a refused request (Invalid) as it is and makes
// anything else errAccountUnavailable, so the caller gets a 503.
func providerFault(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) && fe.Kind == fault.Invalid {
		return err
	}
	return fmt.Errorf("%w: %w", errAccountUnavailable, err)
}

// CreateAccount makes a simulated account, enabled at once: the sandbox
// has no onboarding (the same key returns the same account).
func (s *Sandbox) CreateAccount(ctx context.Context, req AccountRequest) (ProviderAccount, error) {
	if err := ctx.Err(); err != nil {
		return ProviderAccount{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.accountBy[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		return ProviderAccount{ID: id, Status: AccountEnabled}, nil
	}
	id := "sandbox_acct_" + rand.Text()
	if err := s.record(sandboxRecord{Op: "account", Key: req.IdempotencyKey, ID: id}); err != nil {
		return ProviderAccount{}, err
	}
	s.accounts++
	if req.IdempotencyKey != "" {
		s.accountBy[req.IdempotencyKey] = id
	}
	return ProviderAccount{ID: id, Status: AccountEnabled}, nil
}

// AccountState says every sandbox account is enabled (an in-memory
// sandbox keeps no state across restarts of `up`, so it does not look the
// id up).
func (s *Sandbox) AccountState(ctx context.Context, accountID string) (ProviderAccount, error) {
	if !strings.HasPrefix(accountID, "sandbox_acct_") {
		return ProviderAccount{}, fault.New(fault.Invalid, "No such account: "+accountID)
	}
	return ProviderAccount{ID: accountID, Status: AccountEnabled}, nil
}

// OnboardingLink is "": sandbox accounts need no onboarding.
func (s *Sandbox) OnboardingLink(context.Context, string, string, string) (string, error) {
	return "", nil
}

// Accounts reports how many payout accounts the sandbox created.
func (s *Sandbox) Accounts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts
}

// CreateAccount creates a Stripe Connect Express account asking for the
// transfers capability (payouts are transfers to it), under the request's
// idempotency key.
func (p *stripeProvider) CreateAccount(ctx context.Context, req AccountRequest) (ProviderAccount, error) {
	params := &stripe.AccountCreateParams{
		Type: stripe.String(string(stripe.AccountTypeExpress)),
		Capabilities: &stripe.AccountCreateCapabilitiesParams{
			Transfers: &stripe.AccountCreateCapabilitiesTransfersParams{Requested: stripe.Bool(true)},
		},
	}
	if req.Email != "" {
		params.Email = stripe.String(req.Email)
	}
	params.AddMetadata("user_id", req.UserID)
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	a, err := p.sc.V1Accounts.Create(ctx, params)
	if err != nil {
		return ProviderAccount{}, stripeError("create account", err)
	}
	return ProviderAccount{ID: a.ID, Status: StripeAccountStatus(a)}, nil
}

// AccountState reads the account from Stripe.
func (p *stripeProvider) AccountState(ctx context.Context, accountID string) (ProviderAccount, error) {
	a, err := p.sc.V1Accounts.GetByID(ctx, accountID, nil)
	if err != nil {
		return ProviderAccount{}, stripeError("retrieve account", err)
	}
	return ProviderAccount{ID: a.ID, Status: StripeAccountStatus(a)}, nil
}

// OnboardingLink creates an account_onboarding account link.
func (p *stripeProvider) OnboardingLink(ctx context.Context, accountID, returnURL, refreshURL string) (string, error) {
	if returnURL == "" || refreshURL == "" {
		return "", errors.New("stripe: an onboarding link needs the return and refresh URLs")
	}
	params := &stripe.AccountLinkCreateParams{
		Account:    stripe.String(accountID),
		Type:       stripe.String("account_onboarding"),
		ReturnURL:  stripe.String(returnURL),
		RefreshURL: stripe.String(refreshURL),
	}
	l, err := p.sc.V1AccountLinks.Create(ctx, params)
	if err != nil {
		return "", stripeError("create account link", err)
	}
	return l.URL, nil
}
