"""Payments: providers behind one interface, the payment state machine, pay-links."""
