package gateway_test

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkCreateRoom200Members creates rooms of 200 members through the
// REST API (HTTP, JSON, auth, one MySQL transaction per room) and reports
// the rows written per second (1 room + 200 members per create).
func BenchmarkCreateRoom200Members(b *testing.B) {
	const members = 200
	e := newEnvWith(b, envConfig{})
	token := e.admin()
	body := group("", make([]string, members)...)
	for i := range body.Members {
		body.Members[i] = fmt.Sprintf("user_%04d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		body.ID = fmt.Sprintf("bench-%d", n)
		n++
		if r := e.do("POST", "/v1/rooms", token, body); r.status != http.StatusCreated {
			b.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	b.StopTimer()
	rows := int64(n) * (1 + members)
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if rooms, m := e.rows(); rooms+m != rows {
		b.Fatalf("%d rooms and %d members in the database, want %d rows", rooms, m, rows)
	}
}
