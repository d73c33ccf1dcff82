// Command demoapp is the bundled demo stack's only program: one static
// binary, copied into three FROM scratch images, that acts as
//
//	demoapp web          a page on :8080 that lists and adds notes (proxies /api to api)
//	demoapp api          HTTP on :8080 with /health and /api/notes, backed by db
//	demoapp db           a tiny note store on :5433 keeping its data in /data
//	demoapp db-dump      print every note as JSON lines (run inside the db container)
//	demoapp db-load      replace every note with JSON lines read from stdin
//	demoapp db-stats     how many notes, how big, oldest and newest (run inside the db container)
//	demoapp add-note API_URL TEXT…   add a note through api (run on the host)
//	demoapp healthcheck URL   exit 0 when URL answers 2xx (the images have no curl)
//
// Nothing is pulled from a registry: the images hold this binary and nothing else.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demoapp web|api|db|db-dump|db-load|db-stats|add-note API_URL TEXT|healthcheck URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "web":
		runServer(":"+env("PORT", "8080"), webHandler())
	case "api":
		runServer(":"+env("PORT", "8080"), apiHandler())
	case "db":
		s := openStore(env("DATA_DIR", "/data"))
		runServer(":"+env("PORT", "5433"), s.handler(os.Getenv("DB_PASSWORD")))
	case "db-dump":
		s := openStore(env("DATA_DIR", "/data"))
		if err := s.dump(os.Stdout); err != nil {
			fatal("dump: %v", err)
		}
	case "db-load":
		s := openStore(env("DATA_DIR", "/data"))
		if err := s.load(os.Stdin); err != nil {
			fatal("load: %v", err)
		}
	case "db-stats":
		s := openStore(env("DATA_DIR", "/data"))
		if err := s.stats(os.Stdout); err != nil {
			fatal("stats: %v", err)
		}
	case "add-note":
		if len(os.Args) < 4 {
			fatal("add-note API_URL TEXT…")
		}
		os.Exit(addNote(os.Args[2], strings.Join(os.Args[3:], " ")))
	case "healthcheck":
		if len(os.Args) < 3 {
			fatal("healthcheck URL")
		}
		os.Exit(healthcheck(os.Args[2]))
	default:
		fatal("unknown mode %q", os.Args[1])
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fatal(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "level=error msg=%q\n", fmt.Sprintf(format, a...))
	os.Exit(1)
}

func logf(level, format string, a ...any) {
	fmt.Fprintf(os.Stdout, "time=%s level=%s msg=%q\n", time.Now().UTC().Format(time.RFC3339), level, fmt.Sprintf(format, a...))
}

// runServer serves until SIGTERM, then shuts down gracefully so `docker stop` is quick.
func runServer(addr string, h http.Handler) {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logf("info", "%s listening on %s", os.Args[1], addr)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errc:
		fatal("serve: %v", err)
	case <-sigs:
		logf("info", "shutting down")
		ctxTimeout := time.AfterFunc(5*time.Second, func() { os.Exit(0) })
		defer ctxTimeout.Stop()
		_ = srv.Close()
	}
}

func healthcheck(u string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		fmt.Println("unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 != 2 {
		fmt.Printf("unhealthy: HTTP %d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Println("healthy:", strings.TrimSpace(string(body)))
	return 0
}

// ---- db: notes kept as one file each under DATA_DIR/notes ----

type note struct {
	ID      int       `json:"id"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

type store struct {
	dir string
	mu  sync.Mutex
}

func openStore(dir string) *store {
	if err := os.MkdirAll(filepath.Join(dir, "notes"), 0o755); err != nil {
		fatal("data dir: %v", err)
	}
	return &store{dir: dir}
}

func (s *store) list() ([]note, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "notes"))
	if err != nil {
		return nil, err
	}
	var out []note
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, "notes", e.Name()))
		if err != nil {
			return nil, err
		}
		var n note
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *store) add(text string) (note, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	notes, err := s.list()
	if err != nil {
		return note{}, err
	}
	n := note{ID: 1, Text: text, Created: time.Now().UTC()}
	if len(notes) > 0 {
		n.ID = notes[len(notes)-1].ID + 1
	}
	return n, s.write(n)
}

func (s *store) write(n note) error {
	b, _ := json.Marshal(n)
	path := filepath.Join(s.dir, "notes", fmt.Sprintf("%06d.json", n.ID))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (s *store) dump(w io.Writer) error {
	notes, err := s.list()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, n := range notes {
		if err := enc.Encode(n); err != nil {
			return err
		}
	}
	return nil
}

// stats prints what the store holds: a few lines for a person.
func (s *store) stats(w io.Writer) error {
	notes, err := s.list()
	if err != nil {
		return err
	}
	var size int64
	entries, err := os.ReadDir(filepath.Join(s.dir, "notes"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			size += fi.Size()
		}
	}
	fmt.Fprintf(w, "data:   %s\n", s.dir)
	fmt.Fprintf(w, "notes:  %d\n", len(notes))
	fmt.Fprintf(w, "bytes:  %d\n", size)
	if len(notes) > 0 {
		oldest, newest := notes[0], notes[len(notes)-1]
		fmt.Fprintf(w, "oldest: #%d %s %q\n", oldest.ID, oldest.Created.Format(time.RFC3339), oldest.Text)
		fmt.Fprintf(w, "newest: #%d %s %q\n", newest.ID, newest.Created.Format(time.RFC3339), newest.Text)
	}
	return nil
}

// addNote posts a note to the api at base (http://127.0.0.1:8081) and
// prints it; the exit code says whether it was stored.
func addNote(base, text string) int {
	if strings.TrimSpace(text) == "" {
		fmt.Fprintln(os.Stderr, "add-note: the note is empty")
		return 2
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(strings.TrimRight(base, "/")+"/api/notes", "text/plain", strings.NewReader(text))
	if err != nil {
		fmt.Fprintln(os.Stderr, "add-note:", err)
		return 1
	}
	defer resp.Body.Close()
	var n note
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&n) != nil {
		fmt.Fprintf(os.Stderr, "add-note: api answered %s\n", resp.Status)
		return 1
	}
	fmt.Printf("added note #%d: %s\n", n.ID, n.Text)
	return 0
}

func (s *store) load(r io.Reader) error {
	var notes []note
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var n note
		if err := json.Unmarshal(line, &n); err != nil {
			return fmt.Errorf("line %d: %w", len(notes)+1, err)
		}
		notes = append(notes, n)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Join(s.dir, "notes")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	for _, n := range notes {
		if err := s.write(n); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "loaded %d notes\n", len(notes))
	return nil
}

func (s *store) handler(password string) http.Handler {
	if password == "" {
		fatal("DB_PASSWORD is empty: set it in .env (stackpilot env set DB_PASSWORD --value-stdin)")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.list(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/notes", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+password {
			logf("warn", "rejected %s /notes: bad password", r.Method)
			http.Error(w, "bad password", http.StatusUnauthorized)
			return
		}
		switch r.Method {
		case http.MethodGet:
			notes, err := s.list()
			if err != nil {
				logf("error", "list notes: %v", err)
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if notes == nil {
				notes = []note{}
			}
			_ = json.NewEncoder(w).Encode(notes)
		case http.MethodPost:
			b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
			n, err := s.add(strings.TrimSpace(string(b)))
			if err != nil {
				logf("error", "add note: %v", err)
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			logf("info", "added note %d", n.ID)
			_ = json.NewEncoder(w).Encode(n)
		default:
			http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		}
	})
	return mux
}

// ---- api: talks to db ----

func apiHandler() http.Handler {
	dbURL := env("DB_URL", "http://db:5433")
	password := os.Getenv("DB_PASSWORD")
	client := &http.Client{Timeout: 3 * time.Second}
	call := func(method, path string, body io.Reader) (*http.Response, error) {
		req, err := http.NewRequest(method, dbURL+path, body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+password)
		return client.Do(req)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		resp, err := call(http.MethodGet, "/health", nil)
		if err != nil {
			http.Error(w, "db unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			http.Error(w, "db unhealthy: "+resp.Status, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/api/notes", func(w http.ResponseWriter, r *http.Request) {
		resp, err := call(r.Method, "/notes", r.Body)
		if err != nil {
			logf("error", "db call failed: %v", err)
			http.Error(w, "db unreachable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			logf("error", "db answered %s", resp.Status)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	mux.HandleFunc("/api/version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, env("APP_VERSION", "1"))
	})
	return mux
}

// ---- web: a page, and /api proxied to api ----

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>{{.Title}}</h1>
<p>The stackpilot demo stack: this page (web) asks api, which keeps notes in db.</p>
<form method="post" action="/add"><input name="text" placeholder="a note"> <button>Add</button></form>
<ul>{{range .Notes}}<li>#{{.ID}} {{.Text}}</li>{{else}}<li>no notes yet</li>{{end}}</ul>
{{if .Err}}<p style="color: #b00">{{.Err}}</p>{{end}}
</body></html>
`))

func webHandler() http.Handler {
	apiURL, err := url.Parse(env("API_URL", "http://api:8080"))
	if err != nil {
		fatal("API_URL: %v", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(apiURL)
	title := env("SITE_TITLE", "stackpilot demo")
	client := &http.Client{Timeout: 3 * time.Second}
	mux := http.NewServeMux()
	mux.Handle("/api/", proxy)
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			text := r.FormValue("text")
			resp, err := client.Post(apiURL.String()+"/api/notes", "text/plain", strings.NewReader(text))
			if err == nil {
				resp.Body.Close()
			}
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		data := struct {
			Title string
			Notes []note
			Err   string
		}{Title: title}
		resp, err := client.Get(apiURL.String() + "/api/notes")
		if err != nil {
			data.Err = "api unreachable: " + err.Error()
		} else {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				data.Err = "api answered " + resp.Status
			} else if err := json.NewDecoder(resp.Body).Decode(&data.Notes); err != nil {
				data.Err = "api answered nonsense: " + err.Error()
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, data)
	})
	return mux
}
