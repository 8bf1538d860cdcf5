// A real OpenID Provider for the sign-in tests: panva's oidc-provider (OpenID Certified), with its
// development login and consent pages. tests/e2e/oidc_provider.py starts it with node and reads
// the first line it prints. Configured by the environment:
//   OP_PORT     the port to listen on (issuer http://127.0.0.1:OP_PORT)
//   OP_KEYS     a JSON file with a private JWKS; its first key signs (rotation: restart with a
//               new first key, the old one still published)
//   KVIT_BASE   the Kvit server under test: its callback and post-logout URIs are registered
//   KVIT_SECRET the cabinet client's secret
// Accounts: any login is accepted; one that starts with "operator" or "auditor" has that role.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const port = Number(process.env.OP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const kvit = process.env.KVIT_BASE;
const api = `${kvit}/v1`;
const keys = JSON.parse(readFileSync(process.env.OP_KEYS, "utf8"));

function rolesOf(id) {
  for (const role of ["operator", "auditor"]) if (id.startsWith(role)) return [role];
  return [];
}

const provider = new Provider(issuer, {
  clients: [
    {
      // The cabinet: a confidential client, its code exchanged by Kvit's server.
      client_id: "kvit",
      client_secret: process.env.KVIT_SECRET,
      redirect_uris: [`${kvit}/auth/callback`],
      post_logout_redirect_uris: [`${kvit}/`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
    {
      // An API client (a mobile app): public, PKCE, sends its access token to Kvit as a bearer.
      client_id: "kvit-app",
      token_endpoint_auth_method: "none",
      redirect_uris: ["http://127.0.0.1/app-callback"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  jwks: keys,
  cookies: { keys: ["oidc-provider-test-cookie-key"] },
  scopes: ["openid", "roles", "api"],
  claims: { openid: ["sub"], roles: ["roles"] },
  // End-user claims (the roles) in the ID token too, not only at the userinfo endpoint.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, roles: rolesOf(id) }),
  }),
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The API client's tokens are for Kvit's API: JWT access tokens Kvit checks by JWKS.
      defaultResource: async (ctx, client, oneOf) =>
        oneOf ?? (client.clientId === "kvit-app" ? api : undefined),
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: "api",
        audience: api,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  extraTokenClaims: async (_ctx, token) =>
    token.kind === "AccessToken" ? { roles: rolesOf(token.accountId) } : undefined,
  ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
