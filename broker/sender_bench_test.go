package broker_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
)

// BenchmarkConcurrentSends: 1,000 connections, each in a room of 2 members
// of its own, each sending 10 messages one after the other (waiting for
// each reply, as a STOMP connection does), through Broker.Send (one round
// trip per SEND) or Sender.Send (shared pipelines). It reports Redis CPU
// and this process's CPU per SEND and SENDs per second.
// Run: go test -run '^$' -bench ConcurrentSends -benchtime 1x ./broker/
func BenchmarkConcurrentSends(b *testing.B) {
	for _, name := range []string{"Broker.Send", "Sender.Send"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchConcurrentSends(b, name == "Sender.Send", 1000, 10)
			}
		})
	}
}

func benchConcurrentSends(b *testing.B, pipelined bool, conns, each int) {
	ctx := context.Background()
	br := newBroker(b)
	room := func(i int) string { return "s" + strconv.Itoa(i) }
	for i := range conns {
		mustJoin(b, br, room(i), "a"+strconv.Itoa(i), "b"+strconv.Itoa(i))
	}
	send := br.Send
	if pipelined {
		s := br.NewSender(broker.SenderConfig{})
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go s.Run(rctx)
		send = s.Send
	}
	body := []byte(`{"type":"text","text":"hello"}`)
	cpu0, self0 := brokertest.RedisCPU(b, br.Redis()), brokertest.SelfCPU()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := send(ctx, broker.SendRequest{Room: room(i), Sender: "a" + strconv.Itoa(i), Type: "text", Body: body}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	cpu1, self1 := brokertest.RedisCPU(b, br.Redis()), brokertest.SelfCPU()
	n := float64(conns * each)
	b.ReportMetric((cpu1-cpu0).Seconds()*1e6/n, "redis-µs/send")
	b.ReportMetric((self1-self0).Seconds()*1e6/n, "process-µs/send")
	b.ReportMetric(n/elapsed.Seconds(), "sends/s")
}
