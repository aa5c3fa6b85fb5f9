// go_server: the storage_api HTTP API as an SRE would otherwise write it, with net/http and
// client_golang, as the "usual alternative" in bench/run.sh. Same routes, same histogram labels and
// buckets; one RWMutex-guarded map as the store. Not part of the product.
package main

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const bucketPrefix = "/api/buckets/"

type store struct {
	mu      sync.RWMutex
	buckets map[string][]byte
}

var knownMethods = map[string]bool{"GET": true, "HEAD": true, "PUT": true, "DELETE": true, "POST": true, "OPTIONS": true, "PATCH": true}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func writeError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"error": "`+message+`"}`)
}

func (s *store) serveBucket(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.mu.RLock()
		value, ok := s.buckets[id]
		s.mu.RUnlock()
		if !ok {
			writeError(w, http.StatusNotFound, "not found")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(value)))
		if r.Method == http.MethodGet {
			w.Write(value)
		}
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad request")
			return
		}
		s.mu.Lock()
		s.buckets[id] = body
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		s.mu.Lock()
		_, ok := s.buckets[id]
		delete(s.buckets, id)
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusBadRequest, "bad request")
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "5000"
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time from the first byte of a request to its response being queued, by route template.",
		Buckets: []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"method", "path", "status"})
	registry.MustRegister(duration)
	metricsHandler := promhttp.HandlerFor(registry, promhttp.HandlerOpts{})

	s := &store{buckets: map[string][]byte{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		route := "unmatched"
		switch {
		case strings.HasPrefix(r.URL.Path, bucketPrefix) && !strings.Contains(r.URL.Path[len(bucketPrefix):], "/"):
			route = "/api/buckets/{id}"
			id := r.URL.Path[len(bucketPrefix):]
			if id == "" || len(id) > 1024 {
				writeError(recorder, http.StatusBadRequest, "bad request")
			} else {
				s.serveBucket(recorder, r, id)
			}
		case r.URL.Path == "/metrics":
			route = "/metrics"
			metricsHandler.ServeHTTP(recorder, r)
		case r.URL.Path == "/healthz":
			route = "/healthz"
			recorder.Header().Set("Content-Type", "application/json")
			io.WriteString(recorder, `{"status": "ok"}`)
		case r.URL.Path == "/readyz":
			route = "/readyz"
			recorder.Header().Set("Content-Type", "application/json")
			io.WriteString(recorder, `{"status": "ready"}`)
		default:
			writeError(recorder, http.StatusNotFound, "not found")
		}
		method := r.Method
		if !knownMethods[method] {
			method = "other"
		}
		duration.WithLabelValues(method, route, strconv.Itoa(recorder.status)).Observe(time.Since(start).Seconds())
	})
	server := &http.Server{Addr: "127.0.0.1:" + port, Handler: handler}
	if err := server.ListenAndServe(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
