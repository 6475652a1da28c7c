// Reference client for the Sabong wallet API v1 signature, in Node.js (18+, no dependencies).
//
// Usage: node docs/sign_request.mjs http://127.0.0.1:8080
//
// Serialize the body ONCE with JSON.stringify, sign exactly that text, send exactly that text.
import { createHmac } from "node:crypto";

const SECRET = process.env.SANDBOX_SECRET ?? "sandbox-secret";

function signature(secret, method, path, timestamp, payload) {
  return createHmac("sha256", secret).update(method + path + timestamp + payload, "utf8").digest("hex");
}

async function call(base, method, path, { params, body } = {}) {
  const timestamp = String(Math.floor(Date.now() / 1000)); // seconds, not milliseconds
  let url = base + path;
  let payload;
  if (method === "GET") {
    // GET payload: parameters sorted by key, key=value joined with &, not URL-encoded.
    const keys = Object.keys(params ?? {}).sort();
    payload = keys.map((k) => `${k}=${params[k]}`).join("&");
    if (keys.length) url += "?" + new URLSearchParams(params).toString();
  } else {
    payload = JSON.stringify(body ?? {});
  }
  const response = await fetch(url, {
    method,
    headers: {
      "x-timestamp": timestamp,
      "x-signature": signature(SECRET, method, path, timestamp, payload),
      "content-type": "application/json",
    },
    body: method === "GET" ? undefined : payload,
  });
  return { status: response.status, body: await response.json() };
}

const base = process.argv[2].replace(/\/$/, "");
const player = { clientId: "NODE_PLAYER", username: "node", displayName: "Café Node", ipAddress: "198.51.100.8" };
for (const step of [
  await call(base, "POST", "/api/v1/generate-auth-token", { body: player }),
  await call(base, "POST", "/api/v1/credit-balance", { body: { clientId: "NODE_PLAYER", amount: 25.75, reference: "NODE-1" } }),
  await call(base, "GET", "/api/v1/get-balance", { params: { clientId: "NODE_PLAYER" } }),
]) {
  console.log(JSON.stringify(step));
}
