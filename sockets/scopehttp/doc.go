// Package scopehttp gives each HTTP request its own [sockets.Scope], the
// Go form of a Cloudflare Workers request handler: sockets the handler
// connects with the request's context belong to the request, at most six
// (by default) are open at once, and every one is closed when the handler
// returns, so a socket can never leak from one request into the next.
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("/fetch", func(w http.ResponseWriter, r *http.Request) {
//		s, err := sockets.Connect(r.Context(), "example.com:443", opts) // in the request's scope
//		...
//	})
//	http.ListenAndServe(addr, scopehttp.Middleware(mux))
//
// It lives in its own package so that importing sockets does not import
// net/http.
package scopehttp
