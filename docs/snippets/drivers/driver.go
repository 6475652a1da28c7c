// Run docs/snippets/sign.go for tests/test_signing_snippets.py (and show it in use).
//
//	cd docs/snippets && go build -o /tmp/driver ./drivers
//	/tmp/driver vectors JOB.json         one JSON line per case of the job
//	/tmp/driver live BASE_URL CLIENT_ID  four signed requests, one JSON line each
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"sabong"
)

const description = "D\u00e9p\u00f4t \u0e1d\u0e32\u0e01\u0e40\u0e07\u0e34\u0e19 \U0001f413 <promo> & more: https://example.com/a/b?x=1&y=2"

type testCase struct {
	ID        string      `json:"id"`
	Kind      string      `json:"kind"`
	Secret    string      `json:"secret"`
	Path      string      `json:"path"`
	Timestamp string      `json:"timestamp"`
	Params    [][2]string `json:"params"`
	Body      string      `json:"body"`
}

// object keeps a JSON object's keys in the order sent, as JSON.parse does (a repeated key keeps
// its first place and its last value); a Go partner would use a struct instead.
type object []member

type member struct {
	key   string
	value interface{}
}

func (o object) MarshalJSON() ([]byte, error) {
	out := []byte{'{'}
	for i, m := range o {
		key, err := sabong.JSONBody(m.key)
		if err != nil {
			return nil, err
		}
		value, err := sabong.JSONBody(m.value)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(append(out, key...), ':'), value...)
	}
	return append(out, '}'), nil
}

func decode(d *json.Decoder) (interface{}, error) {
	token, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch token {
	case json.Delim('{'):
		o := object{}
		index := map[string]int{}
		for d.More() {
			key, err := d.Token()
			if err != nil {
				return nil, err
			}
			value, err := decode(d)
			if err != nil {
				return nil, err
			}
			if i, seen := index[key.(string)]; seen {
				o[i].value = value
			} else {
				index[key.(string)] = len(o)
				o = append(o, member{key.(string), value})
			}
		}
		_, err = d.Token()
		return o, err
	case json.Delim('['):
		list := []interface{}{}
		for d.More() {
			value, err := decode(d)
			if err != nil {
				return nil, err
			}
			list = append(list, value)
		}
		_, err = d.Token()
		return list, err
	}
	return token, nil // a string, float64, bool or nil
}

func runCase(c testCase) (map[string]string, error) {
	switch c.Kind {
	case "json":
		value, err := decode(json.NewDecoder(strings.NewReader(c.Body)))
		if err != nil {
			return nil, err
		}
		body, err := sabong.JSONBody(value)
		return map[string]string{"json": string(body)}, err
	case "get":
		ts, _ := strconv.ParseInt(c.Timestamp, 10, 64)
		params := url.Values{}
		for _, pair := range c.Params {
			params.Add(pair[0], pair[1])
		}
		return map[string]string{
			"payload":   sabong.QueryPayload(params),
			"query":     params.Encode(),
			"signature": sabong.Sign(c.Secret, "GET", c.Path, ts, params, nil),
		}, nil
	}
	ts, _ := strconv.ParseInt(c.Timestamp, 10, 64)
	return map[string]string{"signature": sabong.Sign(c.Secret, "POST", c.Path, ts, nil, []byte(c.Body))}, nil
}

func printLine(line map[string]interface{}) {
	b, _ := json.Marshal(line)
	fmt.Println(string(b))
}

func call(base, step, method, path string, params url.Values, body interface{}) error {
	timestamp := time.Now().Unix() // seconds, not milliseconds
	target := base + path
	var sent []byte
	if method == "GET" {
		target += "?" + params.Encode()
	} else {
		var err error
		if sent, err = sabong.JSONBody(body); err != nil { // marshalled once: signed and sent
			return err
		}
	}
	request, err := http.NewRequest(method, target, bytes.NewReader(sent))
	if err != nil {
		return err
	}
	request.Header.Set("x-timestamp", strconv.FormatInt(timestamp, 10))
	request.Header.Set("x-signature", sabong.Sign("sandbox-secret", method, path, timestamp, params, sent))
	request.Header.Set("content-type", "application/json")
	response, err := (&http.Client{Timeout: 10 * time.Second}).Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	text, err := io.ReadAll(response.Body)
	if err != nil {
		return err
	}
	var doctor interface{}
	if d := response.Header.Get("x-sandbox-signature-doctor"); d != "" {
		doctor = d
	}
	printLine(map[string]interface{}{"step": step, "status": response.StatusCode, "body": string(text), "doctor": doctor})
	return nil
}

// The bodies a Go partner sends: structs, fields in the order the API documents.
type player struct {
	ClientID    string `json:"clientId"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
	IPAddress   string `json:"ipAddress"`
}

type credit struct {
	ClientID    string  `json:"clientId"`
	Amount      float64 `json:"amount"`
	Description string  `json:"description,omitempty"`
	Reference   string  `json:"reference,omitempty"`
}

func live(base, clientID string) error {
	steps := []func() error{
		func() error {
			body := player{clientID, strings.ToLower(clientID), "Caf\u00e9 <Partner> & Co", "198.51.100.7"}
			return call(base, "token", "POST", "/api/v1/generate-auth-token", nil, body)
		},
		func() error {
			body := credit{clientID, 100.50, description, clientID + "-1"}
			return call(base, "credit", "POST", "/api/v1/credit-balance", nil, body)
		},
		func() error {
			params := url.Values{"clientId": {clientID}}
			return call(base, "balance", "GET", "/api/v1/get-balance", params, nil)
		},
		func() error {
			params := url.Values{"clientId": {clientID}, "limit": {"5"}, "dateFrom": {"2020-01-01T00:00:00+08:00"}}
			return call(base, "transactions", "GET", "/api/v1/get-transactions", params, nil)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if os.Args[1] == "vectors" {
		job, err := os.ReadFile(os.Args[2])
		if err != nil {
			panic(err)
		}
		var parsed struct{ Cases []testCase }
		if err := json.Unmarshal(job, &parsed); err != nil {
			panic(err)
		}
		for _, c := range parsed.Cases {
			line := map[string]interface{}{"id": c.ID}
			result, err := runCase(c)
			if err != nil { // reported per case: the test names what failed
				line["error"] = err.Error()
			}
			for key, value := range result {
				line[key] = value
			}
			printLine(line)
		}
		return
	}
	if err := live(strings.TrimSuffix(os.Args[2], "/"), os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
