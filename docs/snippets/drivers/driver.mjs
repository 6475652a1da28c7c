// Run docs/snippets/sign.mjs for tests/test_signing_snippets.py (and show it in use).
//
//   node driver.mjs vectors JOB.json         one JSON line per case of the job
//   node driver.mjs live BASE_URL CLIENT_ID  four signed requests, one JSON line each
import { readFileSync } from "node:fs";
import { jsonBody, queryPayload, queryString, sign } from "../sign.mjs";

const DESCRIPTION = "D\u00e9p\u00f4t \u0e1d\u0e32\u0e01\u0e40\u0e07\u0e34\u0e19 \u{1f413} <promo> & more: https://example.com/a/b?x=1&y=2";

function runCase(c) {
  if (c.kind === "json") return { json: jsonBody(JSON.parse(c.body)) };
  if (c.kind === "get") {
    const params = new URLSearchParams(); // the live run below passes plain objects
    for (const [key, value] of c.params) params.append(key, value);
    return {
      payload: queryPayload(params),
      query: queryString(params),
      signature: sign(c.secret, "GET", c.path, c.timestamp, params),
    };
  }
  return { signature: sign(c.secret, "POST", c.path, c.timestamp, c.body) };
}

async function call(base, step, method, path, paramsOrBody) {
  const timestamp = Math.floor(Date.now() / 1000); // seconds, not milliseconds
  let url = base + path;
  let body;
  if (method === "GET") {
    url += "?" + queryString(paramsOrBody);
  } else {
    body = jsonBody(paramsOrBody); // serialized once: this string is signed and sent
  }
  const response = await fetch(url, {
    method,
    headers: {
      "x-timestamp": String(timestamp),
      "x-signature": sign("sandbox-secret", method, path, timestamp, body ?? paramsOrBody),
      "content-type": "application/json",
    },
    body,
  });
  const doctor = response.headers.get("x-sandbox-signature-doctor");
  console.log(JSON.stringify({ step, status: response.status, body: await response.text(), doctor }));
}

const [mode, arg, clientId] = process.argv.slice(2);
if (mode === "vectors") {
  for (const c of JSON.parse(readFileSync(arg, "utf8")).cases) {
    let result;
    try {
      result = runCase(c);
    } catch (error) {
      result = { error: String(error) }; // reported per case: the test names what failed
    }
    console.log(JSON.stringify({ id: c.id, ...result }));
  }
} else {
  const base = arg.replace(/\/$/, "");
  const player = { clientId, username: clientId.toLowerCase(), displayName: "Caf\u00e9 <Partner> & Co", ipAddress: "198.51.100.7" };
  await call(base, "token", "POST", "/api/v1/generate-auth-token", player);
  await call(base, "credit", "POST", "/api/v1/credit-balance", { clientId, amount: 100.50, description: DESCRIPTION, reference: `${clientId}-1` });
  await call(base, "balance", "GET", "/api/v1/get-balance", { clientId });
  await call(base, "transactions", "GET", "/api/v1/get-transactions", { clientId, limit: 5, dateFrom: "2020-01-01T00:00:00+08:00" });
}
