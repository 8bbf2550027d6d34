package transport

import (
	"strings"
	"testing"
)

// answerID tells answers (which strike a request off as answered) from
// requests and notifications, wherever the id stands among the members.
func TestAnswerID(t *testing.T) {
	big := `{"content":[{"type":"text","text":"` + strings.Repeat("row,", 10000) + `"}]}`
	cases := []struct {
		name, msg, id string // id "" : not an answer
	}{
		{"result, id first", `{"jsonrpc":"2.0","id":7,"result":` + big + `}`, "7"},
		{"result, id last", `{"jsonrpc":"2.0","result":` + big + `,"id":"a-1"}`, `"a-1"`},
		{"error", `{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"no"}}`, "3"},
		{"error, id last", `{"error":{"code":1,"message":"x"},"jsonrpc":"2.0","id":4}`, "4"},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`, ""},
		{"request to the client", `{"jsonrpc":"2.0","id":9,"method":"roots/list"}`, ""},
		{"request, method last", `{"jsonrpc":"2.0","id":9,"params":{},"method":"ping"}`, ""},
		{"null id", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}`, "null"},
		{"not an object", `[1,2]`, ""},
		{"not JSON", `hello`, ""},
		{"empty", ``, ""},
	}
	for _, c := range cases {
		id, ok := answerID([]byte(c.msg))
		if ok != (c.id != "") || string(id) != c.id {
			t.Errorf("%s: answerID = %q, %v; want %q", c.name, id, ok, c.id)
		}
	}
}

// pendingRequests.answered strikes off exactly the request an answer names,
// however its id was spelled, and nothing for requests or notifications.
func TestAnsweredStrikesOffTheRequest(t *testing.T) {
	p := newPendingRequests()
	p.add("n:7")
	p.add("s:x")
	p.answered([]byte(`{"jsonrpc":"2.0","id":9,"method":"roots/list"}`))
	p.answered([]byte(`{"jsonrpc":"2.0","method":"notifications/message","params":{"id":7}}`))
	if n := p.count(); n != 2 {
		t.Fatalf("%d pending after a request and a notification, want 2", n)
	}
	p.answered([]byte(`{"jsonrpc":"2.0","id":7.0,"result":{}}`))
	if n := p.count(); n != 1 || !p.ids["s:x"] {
		t.Fatalf("after answering 7: %d pending %v, want only s:x", n, p.ids)
	}
	p.answered([]byte(`{"jsonrpc":"2.0","result":{},"id":"x"}`))
	if n := p.count(); n != 0 {
		t.Fatalf("%d pending after both answers", n)
	}
}
