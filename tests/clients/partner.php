<?php
// A partner's PHP client, written from the public docs only, with deliberate mistakes.
//
// Usage: php tests/clients/partner.php BASE_URL [CASE ...]
// Prints one JSON line per case: what the sandbox answered (status, the X-Sandbox-Signature-*
// headers). tests/test_doctor_clients.py runs it against a live sandbox and checks that the
// signature doctor names each mistake. PHP 8.0+ with nothing but the bundled json and hash
// extensions: HTTP through PHP's own stream wrapper (no curl extension needed).
//
// The docs say: x-signature = HMAC-SHA256(secret, METHOD + PATH + TIMESTAMP + PAYLOAD), hex;
// PAYLOAD is the JSON body for a POST, the query parameters sorted by key and joined
// key=value with "&" for a GET.

const SECRET = 'sandbox-secret';
const CLIENT = 'CLIENT_001';
const CREDIT = '/api/v1/credit-balance';
const TRANSACTIONS = '/api/v1/get-transactions';

function sign(string $secret, string $text): string
{
    return hash_hmac('sha256', $text, $secret);
}

/** The partner's one helper for GETs: the params sorted by key, joined key=value with "&". */
function sorted_join(array $params): string
{
    ksort($params);
    $parts = [];
    foreach ($params as $key => $value) {
        $parts[] = $key . '=' . $value;
    }
    return implode('&', $parts);
}

function send(string $base, string $method, string $target, string $timestamp, string $signature, ?string $body = null): array
{
    $context = stream_context_create(['http' => [
        'method' => $method,
        'header' => "x-timestamp: $timestamp\r\nx-signature: $signature\r\ncontent-type: application/json\r\n",
        'content' => $body ?? '',
        'ignore_errors' => true, // read 4xx answers too
        'timeout' => 20,
    ]]);
    $answer = file_get_contents($base . $target, false, $context);
    $status = 0;
    $headers = [];
    foreach ($http_response_header as $line) {
        if (preg_match('#^HTTP/\S+ (\d{3})#', $line, $m)) {
            $status = (int) $m[1];
        } elseif (str_contains($line, ':')) {
            [$name, $value] = explode(':', $line, 2);
            $headers[strtolower($name)] = trim($value);
        }
    }
    $exact = $headers['x-sandbox-string-to-sign-base64'] ?? null;
    return [
        'status' => $status,
        'reason' => $headers['x-sandbox-signature-reason'] ?? null,
        'finding' => $headers['x-sandbox-signature-finding'] ?? null,
        'doctor' => $headers['x-sandbox-signature-doctor'] ?? null,
        'detail' => $headers['x-sandbox-signature-detail'] ?? null,
        // The StringToSign the sandbox built: its exact bytes when the header had to escape it.
        'signed' => $exact !== null ? base64_decode($exact) : ($headers['x-sandbox-string-to-sign'] ?? null),
        'body' => $answer,
    ];
}

/** A POST whose body is encoded once, sent and signed as such (what the docs ask for). */
function post_json(string $base, string $json, ?string $signed = null, string $secret = SECRET): array
{
    $ts = (string) time();
    $signature = sign($secret, 'POST' . CREDIT . $ts . ($signed ?? $json));
    return send($base, 'POST', CREDIT, $ts, $signature, $json);
}

$promo = ['clientId' => CLIENT, 'amount' => 10.5, 'reference' => 'PHP-REF-1', 'description' => 'See https://example.com/promo'];
$cafe = ['clientId' => CLIENT, 'amount' => 3, 'description' => 'Café au lait'];
$both = ['clientId' => CLIENT, 'amount' => 4, 'description' => 'Café https://example.com/menu'];
$plain = ['clientId' => CLIENT, 'amount' => 5, 'reference' => 'PHP-REF-2'];

// Each case: what a partner wrote; `-fixed` is the same call done right.
$cases = [
    // M3: json_encode() escapes '/' as '\/' in the body sent and signed.
    'json-encode-url' => fn (string $base) => post_json($base, json_encode($promo)),
    'json-encode-url-fixed' => fn (string $base) => post_json($base, json_encode($promo, JSON_UNESCAPED_SLASHES)),
    // M4: json_encode() escapes 'é' as \u00e9 in the body sent and signed.
    'json-encode-unicode' => fn (string $base) => post_json($base, json_encode($cafe)),
    'json-encode-unicode-fixed' => fn (string $base) => post_json($base, json_encode($cafe, JSON_UNESCAPED_UNICODE)),
    'json-encode-both' => fn (string $base) => post_json($base, json_encode($both)),
    'json-encode-both-fixed' => fn (string $base) => post_json($base, json_encode($both, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES)),
    // Pretty-printed for signing (and a log), sent compact.
    'pretty-print-signed' => fn (string $base) => post_json($base, json_encode($plain), json_encode($plain, JSON_PRETTY_PRINT)),
    // http_build_query() leaves a null value out of the URL; the sorted join signs type=.
    'http-build-query-null' => function (string $base) {
        $params = ['clientId' => CLIENT, 'limit' => 5, 'type' => null];
        $ts = (string) time();
        $signature = sign(SECRET, 'GET' . TRANSACTIONS . $ts . sorted_join($params));
        return send($base, 'GET', TRANSACTIONS . '?' . http_build_query($params), $ts, $signature);
    },
    // http_build_query() for the signed text too: ':' and '+' signed as %3A and %2B.
    'http-build-query-signed' => function (string $base) {
        $params = ['clientId' => CLIENT, 'dateFrom' => '2026-01-01T00:00:00+08:00'];
        ksort($params);
        $query = http_build_query($params);
        $ts = (string) time();
        return send($base, 'GET', TRANSACTIONS . '?' . $query, $ts, sign(SECRET, 'GET' . TRANSACTIONS . $ts . $query));
    },
    // M2 in PHP: the date with its offset concatenated into the URL as typed.
    'concatenated-url-plus' => function (string $base) {
        $params = ['clientId' => CLIENT, 'dateFrom' => '2026-01-01T00:00:00+08:00', 'sortOrder' => 'asc'];
        $ts = (string) time();
        $signature = sign(SECRET, 'GET' . TRANSACTIONS . $ts . sorted_join($params));
        $url = TRANSACTIONS . '?clientId=' . CLIENT . '&dateFrom=' . $params['dateFrom'] . '&sortOrder=asc';
        return send($base, 'GET', $url, $ts, $signature);
    },
    'concatenated-url-plus-fixed' => function (string $base) {
        $params = ['clientId' => CLIENT, 'dateFrom' => '2026-01-01T00:00:00+08:00', 'sortOrder' => 'asc'];
        $ts = (string) time();
        $signature = sign(SECRET, 'GET' . TRANSACTIONS . $ts . sorted_join($params));
        $url = TRANSACTIONS . '?clientId=' . CLIENT . '&dateFrom=' . rawurlencode($params['dateFrom']) . '&sortOrder=asc';
        return send($base, 'GET', $url, $ts, $signature);
    },
    // The raw digest, base64-encoded (a habit from other APIs).
    'base64-raw-digest' => function (string $base) use ($plain) {
        $json = json_encode($plain);
        $ts = (string) time();
        $signature = base64_encode(hash_hmac('sha256', 'POST' . CREDIT . $ts . $json, SECRET, true));
        return send($base, 'POST', CREDIT, $ts, $signature, $json);
    },
    'uppercase-hex' => function (string $base) use ($plain) {
        $json = json_encode($plain);
        $ts = (string) time();
        return send($base, 'POST', CREDIT, $ts, strtoupper(sign(SECRET, 'POST' . CREDIT . $ts . $json)), $json);
    },
    // Milliseconds from microtime() signed, seconds in the header.
    'microtime-signed' => function (string $base) use ($plain) {
        $json = json_encode($plain);
        $ms = (int) floor(microtime(true) * 1000);
        $signature = sign(SECRET, 'POST' . CREDIT . $ms . $json);
        return send($base, 'POST', CREDIT, (string) intdiv($ms, 1000), $signature, $json);
    },
    // The secret read from a file that ends with a line break.
    'secret-file-newline' => function (string $base) use ($plain) {
        $file = tempnam(sys_get_temp_dir(), 'secret');
        file_put_contents($file, SECRET . "\n");
        $secret = file_get_contents($file);
        unlink($file);
        return post_json($base, json_encode($plain), null, $secret);
    },
];

$base = rtrim($argv[1], '/');
$names = count($argv) > 2 ? array_slice($argv, 2) : array_keys($cases);
foreach ($names as $name) {
    echo json_encode(['case' => $name] + $cases[$name]($base), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
}
