// Run docs/snippets/Sign.java for tests/test_signing_snippets.py (and show it in use).
//
//   javac -d /tmp/classes docs/snippets/Sign.java docs/snippets/drivers/SignDriver.java
//   java -cp /tmp/classes SignDriver vectors JOB.json         one JSON line per case of the job
//   java -cp /tmp/classes SignDriver live BASE_URL CLIENT_ID  four signed requests, one JSON line each

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class SignDriver {
    static final String DESCRIPTION =
            "D\u00e9p\u00f4t \u0e1d\u0e32\u0e01\u0e40\u0e07\u0e34\u0e19 \ud83d\udc13 <promo> & more: https://example.com/a/b?x=1&y=2";
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    public static void main(String[] args) throws Exception {
        if (args[0].equals("vectors")) {
            Map<?, ?> job = (Map<?, ?>) new Parser(Files.readString(Path.of(args[1]))).value();
            for (Object item : (List<?>) job.get("cases")) {
                Map<?, ?> c = (Map<?, ?>) item;
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("id", c.get("id"));
                try {
                    line.putAll(runCase(c));
                } catch (RuntimeException e) { // reported per case: the test names what failed
                    line.put("error", e.toString());
                }
                OUT.println(Sign.json(line));
            }
        } else {
            live(args[1].replaceAll("/$", ""), args[2]);
        }
    }

    static Map<String, Object> runCase(Map<?, ?> c) {
        String kind = (String) c.get("kind");
        if (kind.equals("json")) {
            return Map.of("json", Sign.json(new Parser((String) c.get("body")).value()));
        }
        String secret = (String) c.get("secret");
        String path = (String) c.get("path");
        long timestamp = Long.parseLong((String) c.get("timestamp"));
        if (kind.equals("get")) {
            Map<String, List<String>> params = new LinkedHashMap<>();
            for (Object pair : (List<?>) c.get("params")) {
                List<?> kv = (List<?>) pair;
                params.computeIfAbsent((String) kv.get(0), k -> new ArrayList<>()).add((String) kv.get(1));
            }
            return Map.of(
                    "payload", Sign.queryPayload(params),
                    "query", Sign.queryString(params),
                    "signature", Sign.sign(secret, "GET", path, timestamp, params));
        }
        return Map.of("signature", Sign.sign(secret, "POST", path, timestamp, (String) c.get("body")));
    }

    static void call(String base, String step, String method, String path, Map<String, ?> paramsOrBody) throws Exception {
        long timestamp = System.currentTimeMillis() / 1000; // seconds, not milliseconds
        HttpRequest.Builder request = HttpRequest.newBuilder().timeout(Duration.ofSeconds(10));
        String signature;
        if (method.equals("GET")) {
            request.uri(URI.create(base + path + "?" + Sign.queryString(paramsOrBody))).GET();
            signature = Sign.sign("sandbox-secret", method, path, timestamp, paramsOrBody);
        } else {
            String body = Sign.json(paramsOrBody); // serialized once: this String is signed and sent
            request.uri(URI.create(base + path)).POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
            signature = Sign.sign("sandbox-secret", method, path, timestamp, body);
        }
        request.header("x-timestamp", Long.toString(timestamp))
                .header("x-signature", signature)
                .header("content-type", "application/json");
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("step", step);
        line.put("status", response.statusCode());
        line.put("body", response.body());
        line.put("doctor", response.headers().firstValue("x-sandbox-signature-doctor").orElse(null));
        OUT.println(Sign.json(line));
    }

    static void live(String base, String clientId) throws Exception {
        Map<String, Object> player = new LinkedHashMap<>();
        player.put("clientId", clientId);
        player.put("username", clientId.toLowerCase());
        player.put("displayName", "Caf\u00e9 <Partner> & Co");
        player.put("ipAddress", "198.51.100.7");
        Map<String, Object> credit = new LinkedHashMap<>();
        credit.put("clientId", clientId);
        credit.put("amount", new BigDecimal("100.50"));
        credit.put("description", DESCRIPTION);
        credit.put("reference", clientId + "-1");
        Map<String, Object> transactions = new LinkedHashMap<>();
        transactions.put("clientId", clientId);
        transactions.put("limit", 5);
        transactions.put("dateFrom", "2020-01-01T00:00:00+08:00");
        call(base, "token", "POST", "/api/v1/generate-auth-token", player);
        call(base, "credit", "POST", "/api/v1/credit-balance", credit);
        call(base, "balance", "GET", "/api/v1/get-balance", Map.of("clientId", clientId));
        call(base, "transactions", "GET", "/api/v1/get-transactions", transactions);
    }

    /**
     * A small JSON parser, for the test's job and the vectors' bodies (Java has none built in).
     * Numbers come out as a Java partner's values would: Long (or BigInteger) and Double; objects
     * as LinkedHashMap, so a repeated key keeps its first place and its last value, as in JS.
     */
    static final class Parser {
        private final String s;
        private int i;

        Parser(String s) {
            this.s = s;
        }

        Object value() {
            Object v = parse();
            skip();
            if (i != s.length()) throw error("trailing characters");
            return v;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException(what + " at " + i);
        }

        private void skip() {
            while (i < s.length() && " \t\n\r".indexOf(s.charAt(i)) >= 0) i++;
        }

        private void expect(char c) {
            skip();
            if (i >= s.length() || s.charAt(i) != c) throw error("expected " + c);
            i++;
        }

        private Object parse() {
            skip();
            if (i >= s.length()) throw error("unexpected end");
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> map = new LinkedHashMap<>();
                skip();
                if (s.charAt(i) == '}') {
                    i++;
                    return map;
                }
                do {
                    skip();
                    String key = string();
                    expect(':');
                    map.put(key, parse());
                    skip();
                } while (s.charAt(i++) == ',');
                if (s.charAt(i - 1) != '}') throw error("expected }");
                return map;
            }
            if (c == '[') {
                i++;
                List<Object> list = new ArrayList<>();
                skip();
                if (s.charAt(i) == ']') {
                    i++;
                    return list;
                }
                do {
                    list.add(parse());
                    skip();
                } while (s.charAt(i++) == ',');
                if (s.charAt(i - 1) != ']') throw error("expected ]");
                return list;
            }
            if (c == '"') return string();
            for (String word : new String[] {"true", "false", "null"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            String text = s.substring(start, i);
            if (!text.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")) throw error("bad value");
            if (text.matches("-?[0-9]+")) {
                BigInteger n = new BigInteger(text);
                return n.bitLength() < 64 ? (Object) n.longValue() : n;
            }
            return Double.parseDouble(text);
        }

        private String string() {
            if (s.charAt(i) != '"') throw error("expected a string");
            StringBuilder out = new StringBuilder();
            for (i++; s.charAt(i) != '"'; i++) {
                char c = s.charAt(i);
                if (c < 0x20) throw error("control character in string");
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char e = s.charAt(++i);
                switch (e) {
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'n': out.append('\n'); break;
                    case 'r': out.append('\r'); break;
                    case 't': out.append('\t'); break;
                    case 'u':
                        out.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                        i += 4;
                        break;
                    case '"': case '\\': case '/': out.append(e); break;
                    default: throw error("bad escape");
                }
            }
            i++;
            return out.toString();
        }
    }
}
