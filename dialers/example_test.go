package dialers_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/outboundhq/outbound/dialers"
)

// Every connection of an http.Client goes through outbound sockets.
func ExampleDialer() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello through outbound")
	}))
	defer srv.Close()

	d := &dialers.Dialer{}
	tr := &http.Transport{DialContext: d.DialContext, DialTLSContext: d.DialTLSContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	resp, err := client.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: hello through outbound
}
