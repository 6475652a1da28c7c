// Generate docs/signature-vectors.json: reference vectors for the Sabong v1 request signature.
//
// This is an independent implementation of the scheme in Node (standard library only), so the
// Python code in sandbox/signing.py can be checked against what JavaScript really does:
//
//   StringToSign = METHOD + PATH + TIMESTAMP + PAYLOAD          (plain concatenation)
//   signature    = lowercase hex HMAC-SHA256(key=secret, message=StringToSign as UTF-8)
//
//   POST payload: JSON.stringify(JSON.parse(body)) when the body is a JSON object; "{}" for an
//                 empty or whitespace-only body; the raw body text otherwise (invalid JSON, or
//                 JSON that is not an object).
//   GET payload:  the raw query split on "&" (empty parts skipped), each part split at the first
//                 "=", key and value decoded like Python's urllib.parse.unquote_plus, repeated keys
//                 joined with "," in order of appearance, sorted by key in code-point order, and
//                 joined as key=value with "&". No query gives an empty payload.
//
// Run from the repository root:  node docs/make_signature_vectors.mjs
// The output is deterministic; re-running it must leave the JSON file unchanged.

import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const SECRET = "sandbox-secret";
const TS = "1769956200";
const POST_PATH = "/api/v1/deposit";
const GET_PATH = "/api/v1/get-balance";
const LIST_PATH = "/api/v1/transactions";

// ----------------------------------------------------------------------------- POST payload

const JSON_WS = /^[ \t\n\r]*$/; // JSON's own whitespace (RFC 8259 "ws")

function postPayload(body) {
  if (JSON_WS.test(body)) return "{}";
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body; // not valid JSON: signed raw
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return body; // valid JSON, but not an object: signed raw
  }
  return JSON.stringify(parsed);
}

// ----------------------------------------------------------------------------- GET payload

// Python's urllib.parse.unquote_plus: "+" becomes a space, then every run of %XX escapes is
// turned into bytes and decoded as UTF-8 with U+FFFD for invalid sequences; a "%" not followed
// by two hex digits is kept literally.
const UTF8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

function unquotePlus(s) {
  s = s.replaceAll("+", " ");
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
    return UTF8.decode(bytes);
  });
}

// Compare two strings by Unicode code point (not by UTF-16 code unit, as Array.sort does).
function compareCodePoints(a, b) {
  const ca = Array.from(a, (c) => c.codePointAt(0));
  const cb = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    if (ca[i] !== cb[i]) return ca[i] - cb[i];
  }
  return ca.length - cb.length;
}

function getPayload(query) {
  const merged = new Map();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = unquotePlus(eq < 0 ? part : part.slice(0, eq));
    const value = unquotePlus(eq < 0 ? "" : part.slice(eq + 1));
    if (!merged.has(key)) merged.set(key, []);
    merged.get(key).push(value);
  }
  return [...merged.keys()]
    .sort(compareCodePoints)
    .map((k) => `${k}=${merged.get(k).join(",")}`)
    .join("&");
}

// ----------------------------------------------------------------------------- signing

function hmacHex(secret, message) {
  return createHmac("sha256", Buffer.from(secret, "utf8"))
    .update(Buffer.from(message, "utf8"))
    .digest("hex");
}

function post(name, body, { path = POST_PATH, timestamp = TS, secret = SECRET } = {}) {
  const payload = postPayload(body);
  const sts = "POST" + path + timestamp + payload;
  return {
    name, method: "POST", path, timestamp, secret, body, payload,
    string_to_sign: sts, signature: hmacHex(secret, sts),
  };
}

function get(name, query, { path = GET_PATH, timestamp = TS, secret = SECRET } = {}) {
  const payload = getPayload(query);
  const sts = "GET" + path + timestamp + payload;
  return {
    name, method: "GET", path, timestamp, secret, query, payload,
    string_to_sign: sts, signature: hmacHex(secret, sts),
  };
}

// ----------------------------------------------------------------------------- self-checks

// The reference vector: the number printing and duplicate-key rules this file relies on.
const REFERENCE_BODY = String.raw`{"a":100.50,"b":50.00,"c":1e21,"d":0.0000001,"e":123456789012345678901234567890,"f":"é/\u001f\n","g":1e-6,"h":-0.0,"i":1.5e300,"a":7,"j":9007199254740993}`;
assert.equal(
  postPayload(REFERENCE_BODY),
  String.raw`{"a":7,"b":50,"c":1e+21,"d":1e-7,"e":1.2345678901234568e+29,"f":"é/\u001f\n","g":0.000001,"h":0,"i":1.5e+300,"j":9007199254740992}`,
);
assert.equal(postPayload(""), "{}");
assert.equal(postPayload(" \n\t\r "), "{}");
assert.equal(postPayload('{"a":'), '{"a":');
assert.equal(postPayload("[1,2]"), "[1,2]");
assert.equal(postPayload(String.raw`{"s":"\u00e9"}`), '{"s":"é"}');
assert.equal(postPayload(String.raw`{"s":"\ud800"}`), String.raw`{"s":"\ud800"}`);
assert.equal(postPayload('{"n":1e400}'), '{"n":null}');
assert.equal(unquotePlus("a+b%20c"), "a b c");
assert.equal(unquotePlus("%C3%A9"), "é");
assert.equal(unquotePlus("%zz%2"), "%zz%2");
assert.equal(unquotePlus("%FF"), "\uFFFD");
assert.equal(getPayload("limit=10&clientId=CLIENT_001&page=2"), "clientId=CLIENT_001&limit=10&page=2");
assert.equal(getPayload(""), "");
assert.ok(compareCodePoints("\uFF21", "\u{1F600}") < 0); // UTF-16 order would say the opposite
// The HMAC itself, against RFC 4231 test case 2.
assert.equal(
  hmacHex("Jefe", "what do ya want for nothing?"),
  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
);

// ----------------------------------------------------------------------------- the vectors

const R = String.raw;

const vectors = [
  // --- POST: the documented example and the reference vector
  post("post docs example", '{"clientId":"CLIENT_001","amount":100}'),
  post("post reference vector", REFERENCE_BODY),

  // --- POST: layout
  post(
    "post pretty-printed body",
    '{\n  "clientId": "CLIENT_001",\n  "amount": 100,\n  "meta": {\n    "note": "first deposit",\n    "tags": [ "a", "b" ]\n  }\n}\n',
  ),
  post("post body with tabs and CRLF", '\r\n\t{ "clientId" :\t"CLIENT_001" ,\r\n "amount" : 1 }\r\n'),

  // --- POST: unicode
  post("post unicode thai", '{"clientId":"CLIENT_001","note":"ฝากเงิน สวัสดีครับ"}'),
  post("post unicode emoji", '{"note":"win 🐓🎉","emoji_key_🐓":1}'),
  post("post unicode accented", '{"name":"José Müller-Øster","city":"Besançon"}'),
  post("post escaped u00e9 comes out raw", R`{"name":"caf\u00e9","upper":"\u00C9"}`),
  post("post escaped surrogate pair comes out raw", R`{"emoji":"\ud83d\ude00"}`),
  post("post escaped lone surrogate stays escaped", R`{"s":"\ud800","t":"x\udfffy","u":"\ude00\ud83d"}`),
  post("post escaped ascii letters", R`{"\u0061":"\u0062\u0063"}`),

  // --- POST: keys
  post("post key order not sorted", '{"zeta":1,"alpha":2,"Mike":3,"_x":4,"amount":5,"clientId":"C"}'),
  post("post repeated keys", '{"a":1,"b":2,"a":3,"c":4,"b":{"x":1},"a":"last"}'),
  post("post empty key and __proto__ key", '{"":1,"__proto__":{"x":1},"constructor":2}'),

  // --- POST: structure
  post(
    "post nested objects and arrays",
    '{"order":{"items":[{"sku":"A1","qty":2,"price":9.99},{"sku":"B2","qty":1,"price":0.5}],"totals":{"sub":20.48,"tax":[]}},"empty":{},"deep":[[[[1]]],[],[{}]]}',
  ),
  post("post booleans and null", '{"t":true,"f":false,"n":null,"arr":[true,false,null]}'),
  post("post empty object", "{}"),
  post("post empty object with inner spaces", "{ }"),

  // --- POST: numbers
  post("post number 100.50", '{"amount":100.50}'),
  post("post number 5e-7", '{"amount":5e-7}'),
  post("post number 1E2", '{"amount":1E2}'),
  post("post number -0", '{"amount":-0}'),
  post("post number 0.30000000000000004", '{"amount":0.30000000000000004}'),
  post("post number 1e400 overflows to null", '{"amount":1e400,"neg":-1e400}'),
  post("post number -1e-400 underflows to 0", '{"amount":-1e-400}'),
  post(
    "post money amounts",
    '{"a":123456789.99,"b":999999999.99,"c":0.01,"d":0.1,"e":19.90,"f":1000000.00,"g":-250.75}',
  ),
  post(
    "post number exponent boundaries",
    '{"a":1e20,"b":1e21,"c":123e19,"d":0.000001,"e":0.0000001,"f":1.5e-6,"g":1e-7,"h":12345678901234567890}',
  ),
  post(
    "post number extremes",
    '{"max":1.7976931348623157e308,"min":5e-324,"normal":2.2250738585072014e-308,"safe":9007199254740991,"unsafe":9007199254740993}',
  ),
  post("post number forms", '{"a":0,"b":-1,"c":1.0,"d":1.50e+2,"e":2.5E-3,"f":4.35,"g":0.1e1,"h":100e-2}'),

  // --- POST: strings
  post("post string with quotes and backslashes", R`{"q":"say \"hi\"","b":"C:\\temp\\x","mix":"\\\"\\"}`),
  post("post string with slashes", R`{"url":"https://example.com/a/b","esc":"a\/b"}`),
  post("post string with tabs and control chars", R`{"t":"a\tb","c":"\b\f\n\r\t","z":"\u0000\u0001\u001f","v":"\u000b"}`),
  post("post string with u2028 u2029", R`{"ls":"a\u2028b","ps":"c\u2029d","raw":"e` + "\u2028" + 'f"}'),
  post("post string with DEL", R`{"del":"a\u007fb","raw":"c` + "\u007f" + 'd"}'),
  post("post string with upper-case hex escape", R`{"s":"\u00E9\u00AD\u001F"}`),

  // --- POST: not a JSON object, signed raw
  post("post empty body", ""),
  post("post whitespace-only body", " \n\t\r "),
  post("post invalid JSON", '{"a":'),
  post("post invalid JSON trailing comma", '{"a":1,}'),
  post("post invalid JSON single quotes", "{'a':1}"),
  post("post invalid JSON NaN", '{"a":NaN}'),
  post("post invalid JSON two values", '{"a":1}{"b":2}'),
  post("post JSON array", "[1,2]"),
  post("post JSON string", '"x"'),
  post("post JSON number", "42"),
  post("post JSON null", "null"),
  post("post JSON true", "true"),
  post("post invalid JSON keeps raw whitespace", ' {"a": 1, } \n'),

  // --- GET
  get("get clientId", "clientId=CLIENT_001"),
  get("get several params unsorted", "limit=10&clientId=CLIENT_001&page=2", { path: LIST_PATH }),
  get("get encoded colon", "dateFrom=2026-02-01T00%3A00%3A00Z&clientId=CLIENT_001", { path: LIST_PATH }),
  get("get plus and %20 are spaces", "name=a+b%20c"),
  get("get encoded utf-8 key and value", "%C3%A9=caf%C3%A9&clientId=C"),
  get("get empty values", "clientId=&type="),
  get("get flag without equals", "flag&clientId=CLIENT_001"),
  get("get repeated keys", "type=credit&type=debit&clientId=X", { path: LIST_PATH }),
  get("get empty query", ""),
  get("get empty parts skipped", "&&clientId=C&&page=1&"),
  get("get value containing equals", "a=b=c&sig=x%3Dy"),
  get("get encoded ampersand and plus", "q=a%26b%2Bc&clientId=C"),
  get("get malformed percent kept", "q=%zz%2&r=100%"),
  get("get invalid utf-8 percent becomes U+FFFD", "q=%FF%C3&clientId=C"),
  get("get lower-case percent escapes", "q=%c3%a9%2f"),
  get("get thai encoded", "note=%E0%B8%9D%E0%B8%B2%E0%B8%81"),
  get("get raw non-ascii", "note=ฝาก&clientId=é"),
  get("get sort is code-point order", "%EF%BC%A1=fullwidth&%F0%9F%90%93=rooster&Z=1&a=2&_=3&1=4"),
  get("get sort upper before lower", "b=1&B=2&a=3&A=4&aa=5&a_=6"),
  get("get empty key", "=x&a=1"),

  // --- other secret / timestamp
  post("post another secret", '{"clientId":"CLIENT_001","amount":100}', { secret: "another-secret-Ω" }),
  get("get another secret", "clientId=CLIENT_001", { secret: "s3cr3t" }),
  post("post another timestamp", '{"clientId":"CLIENT_001","amount":100}', { timestamp: "1700000000" }),
  get("get another timestamp", "clientId=CLIENT_001", { timestamp: "1" }),
];

// Integer-like keys: JavaScript objects list array-index keys (canonical decimal "0" ...
// "4294967294") first, in ascending numeric order, whatever the order in the body; every other
// key ("-1", "01", "1.5", "4294967295") keeps its place. JSON.stringify(JSON.parse(body)) is the
// scheme's definition, so the payload reorders them.
vectors.push(
  post(
    "post integer-like keys are ordered first",
    '{"b":1,"10":2,"2":3,"a":4,"-1":5,"01":6,"1.5":7,"0":8,"4294967295":9,"4294967294":10}',
  ),
);
assert.equal(
  vectors.at(-1).payload,
  '{"0":8,"2":3,"10":2,"4294967294":10,"b":1,"a":4,"-1":5,"01":6,"1.5":7,"4294967295":9}',
);

// Sanity: names are unique.
assert.equal(new Set(vectors.map((v) => v.name)).size, vectors.length);

const out = {
  comment:
    "Reference vectors for the Sabong v1 request signature (StringToSign = METHOD + PATH + " +
    "TIMESTAMP + PAYLOAD; signature = lowercase hex HMAC-SHA256). Generated by " +
    "docs/make_signature_vectors.mjs with Node's JSON.stringify; do not edit by hand",
  secret: SECRET,
  vectors,
};

const here = dirname(fileURLToPath(import.meta.url));
// An optional argument writes elsewhere (the test suite regenerates into a temp dir).
const target = process.argv[2] ?? join(here, "signature-vectors.json");
writeFileSync(target, JSON.stringify(out, null, 2) + "\n", "utf8");
console.log(`wrote ${vectors.length} vectors to ${target} (node ${process.version})`);
