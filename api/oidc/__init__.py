"""Signing residents in with OpenID Connect, and checking the provider's tokens.

The seam is `api/oidc/base.py`'s `IdentityProvider`: the routes (api/oidc/routes.py) and the
caller check (api/callers.py) know only it. `provider.py` is the standard OpenID Connect one
(discovery, authorization code with PKCE, ID tokens checked against the JWKS); an ЕСИА adapter
would be one more module beside it (docs/esia.md).
"""
