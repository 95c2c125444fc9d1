"""OpenID Connect sign-in (docs/identity.md), on mozilla-django-oidc.

``config``: the settings and the provider's discovery document; ``errors``: why a sign-in
failed, as a page; ``accounts``: the (issuer, subject) link, account creation, profile and
group sync; ``backends``: the authentication backends; ``views``: start, callback, logout.
"""
