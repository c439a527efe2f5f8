"""Payment providers (sandbox, Mollie, Stripe) behind `base.Provider`, chosen by the registry."""
