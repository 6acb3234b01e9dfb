//! The attacks: what an attacker tries, over the real HTTP API, and what stops it.
