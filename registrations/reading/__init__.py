"""Readers that pull one value (a name, an e-mail, a number) out of what a
participant typed: pure functions, no database, no network."""
