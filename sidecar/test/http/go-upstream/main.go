// A Go net/http API (standard library only) for go-upstream-redteam.test.ts: Go 1.22 ServeMux patterns, form
// and JSON reading as handlers commonly write them, and answers marshalled by encoding/json. It records what
// each handler executed, readable at GET /_executed. Prints its address on stdout once listening.
package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/csv"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

type executed struct {
	Route  string `json:"route"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Amount string `json:"amount,omitempty"`
}

var (
	mu  sync.Mutex
	log []executed
)

func record(route string, r *http.Request) {
	amount := r.FormValue("amount")
	if amount == "" && r.Body != nil {
		var v struct{ Amount json.Number }
		if json.NewDecoder(r.Body).Decode(&v) == nil {
			amount = v.Amount.String()
		}
	}
	mu.Lock()
	log = append(log, executed{route, r.Method, r.URL.Path, amount})
	mu.Unlock()
}

type customer struct {
	Name   string `json:"name"`
	Email  string `json:"email"`
	SSN    string `json:"ssn"`
	Record []byte `json:"record"`
}

var alice = customer{Name: "Alice <Admin> & co", Email: "alice@example.com", SSN: "123-45-6789"}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_executed", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(log)
	})
	mux.HandleFunc("POST /refunds", func(w http.ResponseWriter, r *http.Request) {
		record("refund", r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"refunded":true}`)
	})
	mux.HandleFunc("POST /refunds/{id}", func(w http.ResponseWriter, r *http.Request) {
		record("refund "+r.PathValue("id"), r)
		fmt.Fprint(w, `{"refunded":true}`)
	})
	mux.HandleFunc("GET /refunds", func(w http.ResponseWriter, r *http.Request) {
		record("list refunds", r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[]`)
	})
	mux.HandleFunc("DELETE /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		record("delete customer", r)
		w.WriteHeader(http.StatusNoContent)
	})
	// A customer in the forms encoding/json gives it: a []byte field is base64, <>& escaped as \u003c.
	mux.HandleFunc("GET /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		record("read customer", r)
		c := alice
		inner, _ := json.Marshal(alice)
		c.Record = inner
		body, _ := json.Marshal(c)
		switch r.URL.Query().Get("form") {
		case "sniffed": // no Content-Type set: net/http sniffs text/plain; charset=utf-8
		case "gzip":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			var buf bytes.Buffer
			z := gzip.NewWriter(&buf)
			z.Write(body)
			z.Close()
			body = buf.Bytes()
		default:
			w.Header().Set("Content-Type", "application/json")
		}
		w.Write(body)
	})
	// A stored export served as a file: http.ServeContent answers Range requests with parts of it.
	mux.HandleFunc("GET /exports/customers.json", func(w http.ResponseWriter, r *http.Request) {
		record("export", r)
		body, _ := json.Marshal([]customer{alice, alice})
		w.Header().Set("Content-Type", "application/json")
		http.ServeContent(w, r, "customers.json", time.Time{}, bytes.NewReader(body))
	})
	// The customer's email in a trailer, as handlers that compute a value while streaming send it.
	mux.HandleFunc("GET /trailers/{id}", func(w http.ResponseWriter, r *http.Request) {
		record("trailers", r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Trailer", "X-Email")
		fmt.Fprint(w, `{"name":"Alice"}`)
		w.Header().Set("X-Email", alice.Email)
		w.Header().Set(http.TrailerPrefix+"Ssn", alice.SSN)
	})
	// An informational answer before the final one (Go sends 1xx since 1.19).
	mux.HandleFunc("GET /hints/{id}", func(w http.ResponseWriter, r *http.Request) {
		record("hints", r)
		w.Header().Set("Link", "</c.css>; rel=preload; email="+alice.Email)
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"Alice"}`)
	})
	// The customer in the other forms a Go handler writes it: encoding/xml, encoding/csv, fmt's %+v, gob.
	mux.HandleFunc("GET /forms/{form}", func(w http.ResponseWriter, r *http.Request) {
		record("form "+r.PathValue("form"), r)
		c := alice
		switch r.PathValue("form") {
		case "xml":
			w.Header().Set("Content-Type", "application/xml")
			xml.NewEncoder(w).Encode(c)
		case "xmlattr":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprintf(w, `<customer email="%s" ssn="%s"/>`, c.Email, c.SSN)
		case "csv":
			w.Header().Set("Content-Type", "text/csv")
			cw := csv.NewWriter(w)
			cw.Write([]string{"name", "email", "ssn"})
			cw.Write([]string{c.Name, c.Email, c.SSN})
			cw.Flush()
		case "printf":
			fmt.Fprintf(w, "%+v\n", c)
		case "map":
			fmt.Fprintf(w, "%v\n", map[string]string{"email": c.Email, "ssn": c.SSN})
		case "gob":
			w.Header().Set("Content-Type", "application/octet-stream")
			gob.NewEncoder(w).Encode(c)
		case "rawdeflate", "zlib", "xgzip", "gzipgzip", "gzipidentity":
			body, _ := json.Marshal(c)
			var buf bytes.Buffer
			enc := map[string]string{"rawdeflate": "deflate", "zlib": "deflate", "xgzip": "x-gzip", "gzipgzip": "gzip, gzip", "gzipidentity": "identity, gzip"}[r.PathValue("form")]
			switch r.PathValue("form") {
			case "rawdeflate":
				f, _ := flate.NewWriter(&buf, flate.DefaultCompression)
				f.Write(body)
				f.Close()
			case "zlib":
				z := zlib.NewWriter(&buf)
				z.Write(body)
				z.Close()
			case "gzipgzip":
				var inner bytes.Buffer
				z := gzip.NewWriter(&inner)
				z.Write(body)
				z.Close()
				z = gzip.NewWriter(&buf)
				z.Write(inner.Bytes())
				z.Close()
			default:
				z := gzip.NewWriter(&buf)
				z.Write(body)
				z.Close()
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", enc)
			w.Write(buf.Bytes())
		case "form":
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
			fmt.Fprint(w, url.Values{"email": {c.Email}, "ssn": {c.SSN}}.Encode())
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		record("fallback", r)
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, `{}`)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	http.Serve(ln, mux)
}
