// Command go-peer is the benchmark's Go baseline: the AotKvs contract (docs/api.md)
// written the way a Go programmer would write it with the standard library alone —
// net/http, one map behind a read-write mutex, and httputil.ReverseProxy for the
// forwarding role. It is a yardstick, not a second implementation to maintain: it covers
// the contract's rows (statuses, bodies, error strings, the 503 with its bound), not the
// operational extras (/healthz, metrics, loop detection). Where net/http itself refuses a
// request (an invalid escape such as "%G1" in the target) it answers as net/http does.
//
// Settings, from the environment:
//
//	PORT                    listen port (default 8090), on all interfaces
//	FORWARDING_ADDRESS      host:port of main; set means the forwarding role
//	FORWARD_TIMEOUT_MS      bound on a forwarded request (default 1000)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	maxKeyRunes  = 50
	maxBodyBytes = 16 << 20
	keyPrefix    = "/kvs"
)

// Every fixed answer, encoded once.
var (
	created       = []byte(`{"result":"created"}`)
	replaced      = []byte(`{"result":"replaced"}`)
	deleted       = []byte(`{"result":"deleted"}`)
	noValue       = []byte(`{"error":"PUT request does not specify a value"}`)
	keyTooLong    = []byte(`{"error":"Key is too long"}`)
	keyMissing    = []byte(`{"error":"Key is missing"}`)
	keyNotFound   = []byte(`{"error":"Key does not exist"}`)
	keyMalformed  = []byte(`{"error":"Key is not valid percent-encoded UTF-8"}`)
	notAllowed    = []byte(`{"error":"Method not allowed"}`)
	pathNotFound  = []byte(`{"error":"Not found"}`)
	bodyTooLarge  = []byte(`{"error":"Request body is too large"}`)
	cannotForward = []byte(`{"error":"Cannot forward request"}`)
	foundPrefix   = []byte(`{"result":"found","value":`)
	foundSuffix   = []byte(`}`)
)

func main() {
	port := envInt("PORT", 8090)
	var handler http.Handler
	if target := strings.TrimSpace(os.Getenv("FORWARDING_ADDRESS")); target != "" {
		handler = newForwarder(target, time.Duration(envInt("FORWARD_TIMEOUT_MS", 1000))*time.Millisecond)
	} else {
		handler = &store{values: make(map[string][]byte)}
	}
	server := &http.Server{
		Addr:              ":" + strconv.Itoa(port),
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       130 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	log.Fatal(server.ListenAndServe())
}

func envInt(name string, fallback int) int {
	text := strings.TrimSpace(os.Getenv(name))
	if text == "" {
		return fallback
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 {
		log.Fatalf("go-peer: %s %q must be a positive whole number", name, text)
	}
	return n
}

func write(w http.ResponseWriter, status int, parts ...[]byte) {
	length := 0
	for _, p := range parts {
		length += len(p)
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(length)}
	w.WriteHeader(status)
	for _, p := range parts {
		w.Write(p)
	}
}

// ---------------------------------------------------------------- main role

type store struct {
	mu     sync.RWMutex
	values map[string][]byte // key -> the value's JSON text as the client sent it
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The key comes from the raw request target: "." and ".." are ordinary keys.
	path := r.RequestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == keyPrefix || path == keyPrefix+"/" {
		write(w, http.StatusBadRequest, keyMissing)
		return
	}
	if !strings.HasPrefix(path, keyPrefix+"/") {
		write(w, http.StatusNotFound, pathNotFound)
		return
	}
	key, err := url.PathUnescape(path[len(keyPrefix)+1:])
	if err != nil || !utf8.ValidString(key) {
		write(w, http.StatusBadRequest, keyMalformed)
		return
	}

	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.mu.RLock()
		value, ok := s.values[key]
		s.mu.RUnlock()
		if ok {
			write(w, http.StatusOK, foundPrefix, value, foundSuffix)
		} else {
			write(w, http.StatusNotFound, keyNotFound)
		}
	case http.MethodPut:
		s.put(w, r, key)
	case http.MethodDelete:
		s.mu.Lock()
		_, ok := s.values[key]
		delete(s.values, key)
		s.mu.Unlock()
		if ok {
			write(w, http.StatusOK, deleted)
		} else {
			write(w, http.StatusNotFound, keyNotFound)
		}
	default:
		w.Header()["Allow"] = []string{"GET, HEAD, PUT, DELETE"}
		write(w, http.StatusMethodNotAllowed, notAllowed)
	}
}

func (s *store) put(w http.ResponseWriter, r *http.Request, key string) {
	if r.ContentLength > maxBodyBytes {
		write(w, http.StatusRequestEntityTooLarge, bodyTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		write(w, http.StatusRequestEntityTooLarge, bodyTooLarge)
		return
	}
	// Stored text is handed back verbatim, so it must be valid UTF-8 JSON.
	var members map[string]json.RawMessage
	if err != nil || !utf8.Valid(body) || json.Unmarshal(body, &members) != nil || members == nil {
		write(w, http.StatusBadRequest, noValue)
		return
	}
	value, ok := members["value"]
	if !ok {
		write(w, http.StatusBadRequest, noValue)
		return
	}
	if utf8.RuneCountInString(key) > maxKeyRunes {
		write(w, http.StatusBadRequest, keyTooLong)
		return
	}
	s.mu.Lock()
	_, existed := s.values[key]
	s.values[key] = value
	s.mu.Unlock()
	if existed {
		write(w, http.StatusOK, replaced)
	} else {
		write(w, http.StatusCreated, created)
	}
}

// ---------------------------------------------------------------- forwarding role

type forwarder struct {
	proxy   *httputil.ReverseProxy
	timeout time.Duration
}

func newForwarder(address string, timeout time.Duration) *forwarder {
	if !strings.Contains(address, ":") {
		address += ":8090"
	}
	origin := &url.URL{Scheme: "http", Host: address}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     50 * time.Second,
	}
	proxy := &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			// Path and query exactly as received.
			r.URL.Scheme = origin.Scheme
			r.URL.Host = origin.Host
			r.Host = origin.Host
		},
		Transport: transport,
		ErrorLog:  log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Main refused, vanished, timed out or dropped us: idle connections to it
			// are suspect, so the next request opens a fresh one.
			transport.CloseIdleConnections()
			write(w, http.StatusServiceUnavailable, cannotForward)
		},
	}
	return &forwarder{proxy: proxy, timeout: timeout}
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The same body limit as main, before anything is sent on.
	if r.ContentLength > maxBodyBytes {
		write(w, http.StatusRequestEntityTooLarge, bodyTooLarge)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.timeout)
	defer cancel()
	// AotKvs sends no X-Forwarded-For; a nil entry tells ReverseProxy not to add one.
	r.Header["X-Forwarded-For"] = nil
	f.proxy.ServeHTTP(w, r.WithContext(ctx))
}
