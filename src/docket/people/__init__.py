"""People: staff accounts and their API keys, and the secret links of providers without one.

The role a person acts in comes from the store (an account), never from a flag; a provider who
has no account reaches their own request through a secret link. Keys and links are both
:mod:`secrets <docket.people.secrets>`: shown once, stored as argon2 hashes, found by a public
prefix, expiring and revocable.
"""
