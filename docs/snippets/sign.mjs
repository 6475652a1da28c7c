// @ts-check
// Sign a Sabong wallet API v1 request (Node 18+, Bun, Deno; no dependencies). Copy this file;
// for TypeScript, rename it to sign.ts and turn the JSDoc types into annotations.
//
// x-signature = lowercase hex HMAC-SHA256(secret, METHOD + PATH + TIMESTAMP + PAYLOAD), where
// PAYLOAD is, for a GET, the query parameters decoded, sorted by key, joined key=value with "&";
// for a POST, the body as JSON.stringify prints it.
//
// Caveats:
// - POST: call JSON.stringify ONCE, sign that string and send that same string (fetch's
//   `body: text`); never hand the object to an HTTP library that serializes it again its own way.
// - GET: sign the decoded values ("2026-02-01T00:00:00+08:00", not %3A or %2B) sorted by code
//   point: Array.prototype.sort compares UTF-16 units, which orders keys with characters beyond
//   U+FFFF (emoji) differently. Build the URL with queryString() (encodeURIComponent).
import { createHmac } from "node:crypto";

/**
 * The x-signature: a GET signs its query parameters (an object), a POST its body string.
 * @param {string} secret
 * @param {string} method
 * @param {string} path
 * @param {number | string} timestamp Unix seconds
 * @param {Params | string} paramsOrBody
 * @returns {string}
 */
export function sign(secret, method, path, timestamp, paramsOrBody) {
  method = method.toUpperCase();
  let payload;
  if (method === "GET") {
    if (typeof paramsOrBody === "string") throw new TypeError("a GET signs its query parameters: pass an object");
    payload = queryPayload(paramsOrBody);
  } else {
    if (typeof paramsOrBody !== "string") throw new TypeError("a POST signs the exact body it sends: pass jsonBody(body)");
    payload = paramsOrBody;
  }
  return createHmac("sha256", secret).update(method + path + timestamp + payload, "utf8").digest("hex");
}

/**
 * The body string to send and sign: JSON.stringify is the server's own definition.
 * @param {object} body
 * @returns {string}
 */
export function jsonBody(body) {
  return JSON.stringify(body);
}

/** @typedef {Record<string, Scalar | Scalar[]> | URLSearchParams} Params  an array is a repeated key */
/** @typedef {string | number | boolean} Scalar */

/** @param {Params} params @returns {[string, string][]} */
function pairs(params) {
  /** @type {[string, unknown][]} */
  const entries = params instanceof URLSearchParams ? [...params] : Object.entries(params);
  return entries.flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value]).map((item) => /** @type {[string, string]} */ ([key, String(item)])),
  );
}

/**
 * The GET PAYLOAD: decoded values, sorted by key (code point), a repeated key joined by ",".
 * @param {Params} params
 * @returns {string}
 */
export function queryPayload(params) {
  /** @type {Map<string, string[]>} */
  const merged = new Map();
  for (const [key, value] of pairs(params)) merged.set(key, [...(merged.get(key) ?? []), value]);
  const byCodePoint = (/** @type {string} */ a, /** @type {string} */ b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  return [...merged.keys()]
    .sort(byCodePoint)
    .map((key) => `${key}=${merged.get(key)?.join(",")}`)
    .join("&");
}

/**
 * The query to put after "?" in the URL, percent-encoded (":" -> %3A, "+" -> %2B).
 * @param {Params} params
 * @returns {string}
 */
export function queryString(params) {
  return pairs(params)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join("&");
}
