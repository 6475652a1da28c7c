// A partner's Node.js client, written from the public docs only, with deliberate mistakes.
//
// Usage: node tests/clients/partner_node.mjs BASE_URL [CASE ...]
// Prints one JSON line per case: what the sandbox answered (status, the X-Sandbox-Signature-*
// headers). tests/test_doctor_clients.py runs it against a live sandbox and checks that the
// signature doctor names each mistake. Node 18+ (global fetch), no dependencies.
//
// The docs say: x-signature = HMAC-SHA256(secret, METHOD + PATH + TIMESTAMP + PAYLOAD), hex;
// PAYLOAD is the JSON body for a POST, the query parameters sorted by key and joined
// key=value with "&" for a GET.
import { createHash, createHmac } from "node:crypto";

const SECRET = process.env.SANDBOX_SECRET ?? "sandbox-secret";
const CLIENT = "CLIENT_001";
const CREDIT = "/api/v1/credit-balance";
const TRANSACTIONS = "/api/v1/get-transactions";

function hmacHex(secret, text) {
  return createHmac("sha256", secret).update(text, "utf8").digest("hex");
}

function seconds() {
  return String(Math.floor(Date.now() / 1000));
}

// The partner's one helper for GETs: sign the params sorted by key, as the docs say.
function sortedJoin(params) {
  return Object.keys(params)
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join("&");
}

// What axios's default params serializer puts in the URL: undefined and null values are left
// out, the rest percent-encoded (axios keeps ':' and turns a space into '+').
function axiosQuery(params) {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value).replace(/%3A/gi, ":").replace(/%20/g, "+")}`)
    .join("&");
}

async function send(base, method, target, timestamp, signature, body) {
  const response = await fetch(base + target, {
    method,
    headers: { "x-timestamp": timestamp, "x-signature": signature, "content-type": "application/json" },
    body,
  });
  const header = (name) => response.headers.get(name);
  const exact = header("x-sandbox-string-to-sign-base64");
  return {
    status: response.status,
    reason: header("x-sandbox-signature-reason"),
    finding: header("x-sandbox-signature-finding"),
    doctor: header("x-sandbox-signature-doctor"),
    detail: header("x-sandbox-signature-detail"),
    // The StringToSign the sandbox built: its exact bytes when the header had to escape it.
    signed: exact ? Buffer.from(exact, "base64").toString("utf8") : header("x-sandbox-string-to-sign"),
    body: await response.text(),
  };
}

const creditBody = { clientId: CLIENT, amount: 10.5, reference: "NODE-REF-1", description: "Top-up" };

// Each case: what a partner wrote; `fixed` is the same call done right, where there is one.
const CASES = {
  // M1: axios leaves `type: undefined` out of the URL; the sorted join signs type=undefined.
  async "axios-undefined-param"(base) {
    const options = { limit: 5 }; // the caller gave no type
    const params = { clientId: CLIENT, limit: options.limit, type: options.type };
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + TRANSACTIONS + ts + sortedJoin(params));
    return send(base, "GET", `${TRANSACTIONS}?${axiosQuery(params)}`, ts, sig);
  },
  async "axios-undefined-param-fixed"(base) {
    const params = { clientId: CLIENT, limit: 5, type: undefined };
    const sent = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + TRANSACTIONS + ts + sortedJoin(sent));
    return send(base, "GET", `${TRANSACTIONS}?${axiosQuery(params)}`, ts, sig);
  },
  async "axios-null-param"(base) {
    const params = { clientId: CLIENT, dateFrom: null, limit: 5 };
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + TRANSACTIONS + ts + sortedJoin(params));
    return send(base, "GET", `${TRANSACTIONS}?${axiosQuery(params)}`, ts, sig);
  },
  // M2: a date with its offset put in the URL as typed: the '+' reaches the server as a space.
  async "template-url-plus"(base) {
    const params = { clientId: CLIENT, dateFrom: "2026-01-01T00:00:00+08:00" };
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + TRANSACTIONS + ts + sortedJoin(params));
    const url = `${TRANSACTIONS}?clientId=${params.clientId}&dateFrom=${params.dateFrom}`;
    return send(base, "GET", url, ts, sig);
  },
  // What the old advice ("sign '+' as a space") led to: a valid signature, then a 400.
  async "template-url-plus-signed-as-space"(base) {
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + TRANSACTIONS + ts + `clientId=${CLIENT}&dateFrom=2026-01-01T00:00:00 08:00`);
    return send(base, "GET", `${TRANSACTIONS}?clientId=${CLIENT}&dateFrom=2026-01-01T00:00:00+08:00`, ts, sig);
  },
  async "template-url-plus-fixed"(base) {
    const params = { clientId: CLIENT, dateFrom: "2026-01-01T00:00:00+08:00" };
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + TRANSACTIONS + ts + sortedJoin(params));
    const url = `${TRANSACTIONS}?clientId=${params.clientId}&dateFrom=${encodeURIComponent(params.dateFrom)}`;
    return send(base, "GET", url, ts, sig);
  },
  // Date.now() is milliseconds: signed so, while the header got seconds.
  async "date-now-signed"(base) {
    const now = Date.now();
    const body = JSON.stringify(creditBody);
    const sig = hmacHex(SECRET, "POST" + CREDIT + now + body);
    return send(base, "POST", CREDIT, String(Math.floor(now / 1000)), sig, body);
  },
  // The signed text pretty-printed (for a log line), the body sent compact.
  async "pretty-signed"(base) {
    const ts = seconds();
    const sig = hmacHex(SECRET, "POST" + CREDIT + ts + JSON.stringify(creditBody, null, 2));
    return send(base, "POST", CREDIT, ts, sig, JSON.stringify(creditBody));
  },
  async "base64-digest"(base) {
    const ts = seconds();
    const body = JSON.stringify(creditBody);
    const sig = createHmac("sha256", SECRET).update("POST" + CREDIT + ts + body).digest("base64");
    return send(base, "POST", CREDIT, ts, sig, body);
  },
  // URLSearchParams for the signed text too: ':' signed as %3A.
  async "urlsearchparams-signed"(base) {
    const params = { clientId: CLIENT, dateFrom: "2026-01-01T00:00:00Z", limit: "5" };
    const query = new URLSearchParams(params).toString();
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + TRANSACTIONS + ts + query);
    return send(base, "GET", `${TRANSACTIONS}?${query}`, ts, sig);
  },
  // The URL's path and search, as the URL object gives them, as PATH.
  async "path-with-query"(base) {
    const url = new URL(`${base}${TRANSACTIONS}?clientId=${CLIENT}&limit=5`);
    const ts = seconds();
    const sig = hmacHex(SECRET, "GET" + url.pathname + url.search + ts);
    return send(base, "GET", url.pathname + url.search, ts, sig);
  },
  async "newline-joined"(base) {
    const ts = seconds();
    const body = JSON.stringify(creditBody);
    const sig = hmacHex(SECRET, ["POST", CREDIT, ts, body].join("\n"));
    return send(base, "POST", CREDIT, ts, sig, body);
  },
  async "plain-sha256"(base) {
    const ts = seconds();
    const body = JSON.stringify(creditBody);
    const sig = createHash("sha256").update(SECRET + "POST" + CREDIT + ts + body).digest("hex");
    return send(base, "POST", CREDIT, ts, sig, body);
  },
  // A secret nobody configured: the doctor can only give the next step.
  async "wrong-secret"(base) {
    const ts = seconds();
    const body = JSON.stringify({ clientId: CLIENT, amount: 1, description: "Café" });
    const mine = "POST" + CREDIT + ts + body;
    const answer = await send(base, "POST", CREDIT, ts, hmacHex("not-the-secret", mine), body);
    // The next step the doctor gives: the StringToSign compared byte for byte with ours.
    return { ...answer, sameStringToSign: answer.signed === mine };
  },
};

const base = process.argv[2].replace(/\/$/, "");
const names = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(CASES);
for (const name of names) {
  console.log(JSON.stringify({ case: name, ...(await CASES[name](base)) }));
}
