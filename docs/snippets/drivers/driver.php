<?php
// Run docs/snippets/sign.php for tests/test_signing_snippets.py (and show it in use).
//
//   php driver.php vectors JOB.json         one JSON line per case of the job
//   php driver.php live BASE_URL CLIENT_ID  four signed requests, one JSON line each

require __DIR__ . '/../sign.php';

const DESCRIPTION = "D\u{e9}p\u{f4}t \u{e1d}\u{e32}\u{e01}\u{e40}\u{e07}\u{e34}\u{e19} \u{1f413} <promo> & more: https://example.com/a/b?x=1&y=2";

function out(array $line): void
{
    echo json_encode($line, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR), "\n";
}

function run_case(array $case): array
{
    if ($case['kind'] === 'json') {
        // Objects stay objects (json_decode's default): {} is not turned into [].
        return ['json' => sabong_json_body(json_decode($case['body'], false, 512, JSON_THROW_ON_ERROR))];
    }
    if ($case['kind'] === 'get') {
        $params = [];
        foreach ($case['params'] as [$key, $value]) {
            $params[$key][] = $value;
        }
        return [
            'payload' => sabong_query_payload($params),
            'query' => sabong_query_string($params),
            'signature' => sabong_sign($case['secret'], 'GET', $case['path'], $case['timestamp'], $params),
        ];
    }
    return ['signature' => sabong_sign($case['secret'], 'POST', $case['path'], $case['timestamp'], $case['body'])];
}

function call(string $base, string $step, string $method, string $path, array|object $paramsOrBody): void
{
    $timestamp = time(); // seconds, not milliseconds
    $url = $base . $path;
    $body = null;
    if ($method === 'GET') {
        $url .= '?' . sabong_query_string($paramsOrBody);
        $signature = sabong_sign('sandbox-secret', $method, $path, $timestamp, $paramsOrBody);
    } else {
        $body = sabong_json_body($paramsOrBody); // serialized once: this string is signed and sent
        $signature = sabong_sign('sandbox-secret', $method, $path, $timestamp, $body);
    }
    $http = [
        'method' => $method,
        'header' => "x-timestamp: $timestamp\r\nx-signature: $signature\r\ncontent-type: application/json\r\n",
        'ignore_errors' => true, // read 4xx bodies too
        'timeout' => 10,
    ];
    if ($body !== null) {
        $http['content'] = $body;
    }
    $text = file_get_contents($url, false, stream_context_create(['http' => $http]));
    $headers = function_exists('http_get_last_response_headers')
        ? http_get_last_response_headers() : $http_response_header;
    preg_match('#^HTTP/\S+ (\d{3})#', $headers[0], $m);
    $doctor = null;
    foreach ($headers as $header) {
        if (stripos($header, 'x-sandbox-signature-doctor:') === 0) {
            $doctor = trim(substr($header, strlen('x-sandbox-signature-doctor:')));
        }
    }
    out(['step' => $step, 'status' => (int) $m[1], 'body' => $text, 'doctor' => $doctor]);
}

function live(string $base, string $clientId): void
{
    $player = [
        'clientId' => $clientId,
        'username' => strtolower($clientId),
        'displayName' => "Caf\u{e9} <Partner> & Co",
        'ipAddress' => '198.51.100.7',
    ];
    $credit = ['clientId' => $clientId, 'amount' => 100.50, 'description' => DESCRIPTION, 'reference' => "$clientId-1"];
    $transactions = ['clientId' => $clientId, 'limit' => 5, 'dateFrom' => '2020-01-01T00:00:00+08:00'];
    call($base, 'token', 'POST', '/api/v1/generate-auth-token', $player);
    call($base, 'credit', 'POST', '/api/v1/credit-balance', $credit);
    call($base, 'balance', 'GET', '/api/v1/get-balance', ['clientId' => $clientId]);
    call($base, 'transactions', 'GET', '/api/v1/get-transactions', $transactions);
}

if ($argv[1] === 'vectors') {
    $job = json_decode(file_get_contents($argv[2]), true, 512, JSON_THROW_ON_ERROR);
    foreach ($job['cases'] as $case) {
        try {
            $result = run_case($case);
        } catch (Throwable $e) { // reported per case: the test names what failed
            $result = ['error' => get_class($e) . ': ' . $e->getMessage()];
        }
        out(['id' => $case['id']] + $result);
    }
} else {
    live(rtrim($argv[2], '/'), $argv[3]);
}
