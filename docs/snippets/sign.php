<?php
// Sign a Sabong wallet API v1 request (PHP 8.0+, nothing beyond the bundled json and hash).
// Copy the functions you need.
//
// x-signature = lowercase hex HMAC-SHA256(secret, METHOD . PATH . TIMESTAMP . PAYLOAD), where
// PAYLOAD is, for a GET, the query parameters decoded, sorted by key, joined key=value with "&";
// for a POST, the body as JavaScript's JSON.stringify prints it.
//
// Caveats:
// - POST: serialize the body ONCE with sabong_json_body(), sign that string and send that same
//   string. It is json_encode() with JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE |
//   JSON_UNESCAPED_LINE_TERMINATORS (JavaScript keeps "/", "é" and U+2028 as they are) under
//   serialize_precision = -1 (with 17, the old php.ini value, 0.1 prints 0.10000000000000001).
//   Money prints as JavaScript prints it (100.50 -> 100.5, 50.0 -> 50), but floats from 1e17 up
//   or below 1e-4 do not (PHP 1.0e+17, 1.0e-5; JavaScript 100000000000000000, 0.00001), nor
//   -0.0 (PHP -0) or integers beyond 2**53 (JavaScript rounds them): the server signs another
//   text, a 401. Money never has them. An empty PHP array encodes as [], not an object.
// - GET: sign the decoded values ("2026-02-01T00:00:00+08:00", not %3A or %2B) and build the
//   URL with sabong_query_string() (rawurlencode; http_build_query would turn a repeated key,
//   ['type' => ['credit', 'debit']], into type[0]=credit&type[1]=debit).

/** The x-signature: a GET signs its query parameters (an array), a POST its body string. */
function sabong_sign(string $secret, string $method, string $path, int|string $timestamp, array|string $paramsOrBody): string
{
    $method = strtoupper($method);
    if ($method === 'GET') {
        if (!is_array($paramsOrBody)) {
            throw new InvalidArgumentException('a GET signs its query parameters: pass them as an array');
        }
        $payload = sabong_query_payload($paramsOrBody);
    } else {
        if (!is_string($paramsOrBody)) {
            throw new InvalidArgumentException('a POST signs the exact body it sends: pass sabong_json_body($body)');
        }
        $payload = $paramsOrBody;
    }
    return hash_hmac('sha256', $method . $path . $timestamp . $payload, $secret);
}

/** The body string to send and sign: compact JSON as JavaScript's JSON.stringify prints it. */
function sabong_json_body(mixed $body): string
{
    $flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_LINE_TERMINATORS
        | JSON_THROW_ON_ERROR;
    $precision = ini_set('serialize_precision', '-1');
    try {
        return json_encode($body, $flags);
    } finally {
        ini_set('serialize_precision', (string) $precision);
    }
}

/** [key, value] string pairs in order; an array value is a repeated key (?type=a&type=b). */
function sabong_query_pairs(array $params): array
{
    $pairs = [];
    foreach ($params as $key => $value) {
        foreach (is_array($value) ? $value : [$value] as $item) {
            $pairs[] = [(string) $key, is_bool($item) ? ($item ? 'true' : 'false') : (string) $item];
        }
    }
    return $pairs;
}

/** The GET PAYLOAD: decoded values, sorted by key, a repeated key's values joined by ",". */
function sabong_query_payload(array $params): string
{
    $merged = [];
    foreach (sabong_query_pairs($params) as [$key, $value]) {
        $merged[$key][] = $value;
    }
    ksort($merged, SORT_STRING); // byte order of UTF-8: the code-point order the server uses
    $parts = [];
    foreach ($merged as $key => $values) {
        $parts[] = $key . '=' . implode(',', $values);
    }
    return implode('&', $parts);
}

/** The query to put after "?" in the URL, percent-encoded (":" -> %3A, "+" -> %2B). */
function sabong_query_string(array $params): string
{
    $parts = [];
    foreach (sabong_query_pairs($params) as [$key, $value]) {
        $parts[] = rawurlencode($key) . '=' . rawurlencode($value);
    }
    return implode('&', $parts);
}
