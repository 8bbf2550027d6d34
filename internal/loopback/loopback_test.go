package loopback

import "testing"

func TestHostAndAddr(t *testing.T) {
	hosts := map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"": false, "0.0.0.0": false, "::": false, "example.com": false, "10.0.0.1": false, "localhost.example.com": false,
	}
	for h, want := range hosts {
		if got := Host(h); got != want {
			t.Errorf("Host(%q) = %v, want %v", h, got, want)
		}
	}
	addrs := map[string]bool{
		"127.0.0.1:8080": true, "[::1]:0": true, "localhost:1": true,
		":8080": false, "0.0.0.0:8080": false, "example.com:80": false, "127.0.0.1": false, "[::1]": false,
	}
	for a, want := range addrs {
		if got := Addr(a); got != want {
			t.Errorf("Addr(%q) = %v, want %v", a, got, want)
		}
	}
}
