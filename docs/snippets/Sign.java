// Sign a Sabong wallet API v1 request (Java 11+, standard library only). Copy this class.
//
// x-signature = lowercase hex HMAC-SHA256(secret, METHOD + PATH + TIMESTAMP + PAYLOAD), where
// PAYLOAD is, for a GET, the query parameters decoded, sorted by key, joined key=value with "&";
// for a POST, the body as JavaScript's JSON.stringify prints it.
//
// Caveats:
// - POST: serialize the body ONCE, sign that String and send that same String. Java has no JSON
//   in its standard library: json() below prints Maps (use a LinkedHashMap: keys in the order
//   you put them), Lists, Strings, Numbers, Booleans and null as JSON.stringify does. With a
//   JSON library, mind its defaults: Jackson and Gson print the double 100.0 as 100.0 and 1e-7
//   as 1.0E-7 (JavaScript: 100, 1e-7), Jackson a BigDecimal 100.50 as 100.50 (JavaScript:
//   100.5), and Gson escapes <, >, &, = and ' unless disableHtmlEscaping().
//   Before Java 19, Double.toString is not always the shortest form (4.9E-324, JavaScript
//   5e-324): amounts as BigDecimal avoid that.
// - GET: sign the decoded values ("2026-02-01T00:00:00+08:00", not %3A or %2B) sorted by code
//   point: String.compareTo and TreeMap compare UTF-16 units, which order keys with characters
//   beyond U+FFFF (emoji) differently. Build the URL with queryString() (URLEncoder).

import java.math.BigDecimal;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.AbstractMap.SimpleEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class Sign {
    private Sign() {}

    /** The x-signature of a GET: its query parameters (a Collection value is a repeated key). */
    public static String sign(String secret, String method, String path, long timestamp, Map<String, ?> params) {
        if (!method.equalsIgnoreCase("GET")) {
            throw new IllegalArgumentException("a " + method + " signs the exact body it sends: pass json(body)");
        }
        return hmacHex(secret, "GET" + path + timestamp + queryPayload(params));
    }

    /** The x-signature of a POST: the exact body String it sends. */
    public static String sign(String secret, String method, String path, long timestamp, String body) {
        if (method.equalsIgnoreCase("GET")) {
            throw new IllegalArgumentException("a GET signs its query parameters: pass them as a Map");
        }
        return hmacHex(secret, method.toUpperCase() + path + timestamp + body);
    }

    private static String hmacHex(String secret, String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            StringBuilder hex = new StringBuilder();
            for (byte b : mac.doFinal(message.getBytes(StandardCharsets.UTF_8))) {
                hex.append(String.format("%02x", b));
            }
            return hex.toString();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<Map.Entry<String, String>> pairs(Map<String, ?> params) {
        List<Map.Entry<String, String>> pairs = new ArrayList<>();
        params.forEach((key, value) -> {
            for (Object item : value instanceof Collection ? (Collection<?>) value : List.of(value)) {
                pairs.add(new SimpleEntry<>(key, String.valueOf(item)));
            }
        });
        return pairs;
    }

    /** The GET PAYLOAD: decoded values, sorted by key (code point), a repeated key joined by ",". */
    public static String queryPayload(Map<String, ?> params) {
        Map<String, List<String>> merged = new LinkedHashMap<>();
        for (Map.Entry<String, String> pair : pairs(params)) {
            merged.computeIfAbsent(pair.getKey(), k -> new ArrayList<>()).add(pair.getValue());
        }
        return merged.keySet().stream()
                .sorted((a, b) -> Arrays.compareUnsigned( // UTF-8 byte order is code-point order
                        a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8)))
                .map(key -> key + "=" + String.join(",", merged.get(key)))
                .collect(Collectors.joining("&"));
    }

    /** The query to put after "?" in the URL, percent-encoded (":" -> %3A, "+" -> %2B). */
    public static String queryString(Map<String, ?> params) {
        return pairs(params).stream()
                .map(p -> URLEncoder.encode(p.getKey(), StandardCharsets.UTF_8) + "="
                        + URLEncoder.encode(p.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
    }

    /** The body String to send and sign: compact JSON as JavaScript's JSON.stringify prints it. */
    public static String json(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value);
        return out.toString();
    }

    private static void write(StringBuilder out, Object value) {
        if (value == null || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Number) {
            out.append(number((Number) value));
        } else if (value instanceof CharSequence) {
            string(out, value.toString());
        } else if (value instanceof Map) {
            out.append('{');
            String comma = "";
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                out.append(comma);
                string(out, String.valueOf(entry.getKey()));
                out.append(':');
                write(out, entry.getValue());
                comma = ",";
            }
            out.append('}');
        } else if (value instanceof Collection) {
            out.append('[');
            String comma = "";
            for (Object item : (Collection<?>) value) {
                out.append(comma);
                write(out, item);
                comma = ",";
            }
            out.append(']');
        } else {
            throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
        }
    }

    // A number as JavaScript prints it (ECMA-262 Number::toString): 100.50 -> 100.5, 1e21 -> 1e+21.
    private static String number(Number n) {
        BigDecimal d;
        if (n instanceof Double || n instanceof Float) {
            double x = n.doubleValue();
            if (Double.isNaN(x) || Double.isInfinite(x)) {
                throw new IllegalArgumentException("JSON has no " + x);
            }
            d = new BigDecimal(Double.toString(x));
        } else {
            d = n instanceof BigDecimal ? (BigDecimal) n : new BigDecimal(n.toString());
        }
        if (d.signum() == 0) {
            return "0"; // also -0.0
        }
        d = d.stripTrailingZeros();
        String digits = d.unscaledValue().abs().toString();
        String sign = d.signum() < 0 ? "-" : "";
        int k = digits.length();
        int e = k - d.scale(); // the value is 0.<digits> times 10^e
        if (k <= e && e <= 21) {
            return sign + digits + "0".repeat(e - k);
        } else if (0 < e && e <= 21) {
            return sign + digits.substring(0, e) + "." + digits.substring(e);
        } else if (-6 < e && e <= 0) {
            return sign + "0." + "0".repeat(-e) + digits;
        }
        String mantissa = k > 1 ? digits.charAt(0) + "." + digits.substring(1) : digits;
        return sign + mantissa + "e" + (e - 1 >= 0 ? "+" : "-") + Math.abs(e - 1);
    }

    // A string as JSON.stringify quotes it: UTF-8 and "/" kept, control characters and unpaired
    // surrogates as escapes in lower-case hex.
    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1));
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (pair) {
                        out.append(c).append(s.charAt(++i));
                    } else if (c < 0x20 || Character.isSurrogate(c)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}
