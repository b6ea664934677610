package scopehttp

import (
	"net/http"

	"github.com/outboundhq/outbound/sockets"
)

// Middleware wraps next so that each request runs in a new [sockets.Scope]
// with the default options (a limit of 6 open sockets, waiting for a slot)
// and the name "METHOD /path". The scope is in the request's context
// ([sockets.ScopeFrom]); it is closed, with every socket connected in it,
// when next returns or the request's context ends.
func Middleware(next http.Handler) http.Handler { return WithOptions(nil)(next) }

// WithOptions returns a middleware like [Middleware] whose scopes use opts
// (nil means the defaults). An empty opts.Name is filled with the request's
// method and path.
func WithOptions(opts *sockets.ScopeOptions) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var o sockets.ScopeOptions
			if opts != nil {
				o = *opts
			}
			if o.Name == "" {
				o.Name = r.Method + " " + r.URL.Path
			}
			ctx := r.Context()
			sc := sockets.NewScope(ctx, &o)
			defer sc.Close()
			next.ServeHTTP(w, r.WithContext(sockets.WithScope(ctx, sc)))
		})
	}
}
