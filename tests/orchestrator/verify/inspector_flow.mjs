// MCP Inspector's OAuth flow as Inspector runs it: the TypeScript SDK's auth() with Inspector's client
// metadata (DCR, loopback redirect http://localhost:6274/oauth/callback), then tools/list and
// tools/call. Driven by test_gateway_mode.py: prints AUTHORIZE <url>, reads the redirect back on
// stdin (the test plays the browser through the consent page), prints RESULT <json>.
// Needs node and @modelcontextprotocol/sdk: tests/node/node_modules (npm ci from its lock file, done by
// `make test`), or PRMLAB_TS_SDK_DIR = another folder with it in node_modules.
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import readline from "node:readline";

const serverUrl = process.argv[2];
const redirect = "http://localhost:6274/oauth/callback";
let clientInfo, tokens, verifier, authUrl;
const provider = {
  get redirectUrl() { return redirect; },
  get clientMetadata() {
    return {
      redirect_uris: [redirect],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      client_name: "MCP Inspector",
      client_uri: "https://github.com/modelcontextprotocol/inspector",
    };
  },
  state() { return "inspector-state"; },
  clientInformation() { return clientInfo; },
  saveClientInformation(i) { clientInfo = i; },
  tokens() { return tokens; },
  saveTokens(t) { tokens = t; },
  redirectToAuthorization(u) { authUrl = u; },
  saveCodeVerifier(v) { verifier = v; },
  codeVerifier() { return verifier; },
};
const first = await auth(provider, { serverUrl });
console.log("FIRST " + first);
console.log("AUTHORIZE " + authUrl.toString());
const rl = readline.createInterface({ input: process.stdin });
const line = await new Promise((res) => rl.once("line", res));
rl.close();
const code = new URL(line).searchParams.get("code");
console.log("SECOND " + (await auth(provider, { serverUrl, authorizationCode: code })));
const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
const client = new Client({ name: "inspector-check", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools();
const res = await client.callTool({ name: "show_user_profile", arguments: {} });
console.log("RESULT " + JSON.stringify({ tools: tools.tools.map((t) => t.name), registered: clientInfo.client_id, content: res.content }));
await client.close();
process.exit(0);
