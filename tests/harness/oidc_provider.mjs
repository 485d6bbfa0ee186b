// A real OpenID Connect provider for the tests: the npm package oidc-provider, its dev
// interactions as the login page (any password; the login names the account).
// Started by tests/harness/oidc.py with one argument: a JSON file
//   {"issuer", "port", "clients": [...], "accounts_file", "token_log", "jwks"?}
// The accounts file ({"sub": {claims}}) is read at every sign-in, so a test can change
// someone's groups between two sign-ins.
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// ES modules ignore NODE_PATH: the package is imported from the harness's cache by path.
const entry = join(process.env.OIDC_PROVIDER_MODULES, "oidc-provider", "lib", "index.js");
const { default: Provider } = await import(pathToFileURL(entry).href);
const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

function accounts() {
  return JSON.parse(readFileSync(config.accounts_file, "utf8"));
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  ...(config.jwks ? { jwks: config.jwks } : {}),
  scopes: ["openid", "email", "profile", "groups"],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["preferred_username", "name"],
    groups: ["groups"],
  },
  // the requested claims go into the ID token too, as Keycloak and Okta can be told to do
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["oidc-harness-cookie-key"] },
  async findAccount(ctx, id) {
    const claims = accounts()[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
});

// How each token request authenticated the client, for the tests: the provider itself
// takes client_secret_basic and client_secret_post alike.
provider.use(async (ctx, next) => {
  if (ctx.path === "/token" && ctx.method === "POST") {
    const method = ctx.headers.authorization ? "client_secret_basic" : "client_secret_post";
    appendFileSync(config.token_log, `${method}\n`);
  }
  await next();
});

const server = provider.listen(config.port, "127.0.0.1", () => {
  console.log(`oidc-provider listening at ${config.issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
