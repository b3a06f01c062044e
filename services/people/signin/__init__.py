"""Signing in with the institution's accounts: OpenID Connect (`oidc`), LDAP or Active Directory (`directory`),
and what a sign-in lets a person do (`admission`: just-in-time accounts, groups as roles). `config` reads the
settings into one object per provider. Plain Python: the web app calls these and owns the cookies."""
