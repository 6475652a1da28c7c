// Package sabong signs Sabong wallet API v1 requests (Go 1.13+, standard library only).
// Copy this file into your module and rename the package.
//
// x-signature = lowercase hex HMAC-SHA256(secret, METHOD + PATH + TIMESTAMP + PAYLOAD), where
// PAYLOAD is, for a GET, the query parameters decoded, sorted by key, joined key=value with "&";
// for a POST, the body as JavaScript's JSON.stringify prints it.
//
// Caveats:
//   - POST: marshal the body ONCE with JSONBody, sign those bytes and send those same bytes.
//     json.Marshal escapes <, > and & (\u003c...) where JavaScript does not: JSONBody uses an
//     Encoder with SetEscapeHTML(false), and rewrites the few other escapes JavaScript never
//     writes (\u2028, \u2029; \u0008 and \u000c before Go 1.22) and -0. Key order: a struct
//     keeps its field order, a map sorts its keys; both are fine because you send what you sign.
//   - GET: sign the decoded values with QueryPayload ("2026-02-01T00:00:00+08:00", not %3A or
//     %2B) and send params.Encode(), which percent-encodes them.
package sabong

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Sign returns the x-signature: a GET signs its query parameters, any other method its body.
func Sign(secret, method, path string, timestamp int64, params url.Values, body []byte) string {
	method = strings.ToUpper(method)
	payload := string(body)
	if method == "GET" {
		payload = QueryPayload(params)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + path + strconv.FormatInt(timestamp, 10) + payload))
	return hex.EncodeToString(mac.Sum(nil))
}

// QueryPayload is the GET PAYLOAD: decoded values sorted by key (byte order of UTF-8, which is
// the code-point order the server uses), a repeated key's values joined by ",".
func QueryPayload(params url.Values) string {
	keys := make([]string, 0, len(params))
	for key := range params {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, key := range keys {
		parts[i] = key + "=" + strings.Join(params[key], ",")
	}
	return strings.Join(parts, "&")
}

// jsEscapes: escapes encoding/json writes for characters JSON.stringify writes otherwise.
var jsEscapes = map[string]string{`\u0008`: `\b`, `\u000c`: `\f`, `\u2028`: "\u2028", `\u2029`: "\u2029"}

// JSONBody is the body to send and sign: compact JSON as JavaScript's JSON.stringify prints it.
func JSONBody(v interface{}) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(b))
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			n := 2 // an escape: \" \\ \n ... or \uXXXX
			if b[i+1] == 'u' {
				n = 6
			}
			esc := string(b[i : i+n])
			if js, ok := jsEscapes[esc]; ok {
				esc = js
			}
			out = append(out, esc...)
			i += n - 1
		case c == '"':
			inString = !inString
			out = append(out, c)
		case !inString && c == '-' && i+1 < len(b) && b[i+1] == '0' &&
			(i+2 == len(b) || strings.IndexByte(",]}", b[i+2]) >= 0):
			// -0 (a negative zero float): JSON.stringify prints 0.
		default:
			out = append(out, c)
		}
	}
	return out, nil
}
