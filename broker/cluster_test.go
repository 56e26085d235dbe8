package broker_test

// Checks of the broker's Redis Cluster path. They run in both passes of
// `make test`: against the single Redis (RCP_TEST_REDIS_URL = one redis://
// URL) they exercise the single-server path with the same assertions, and in
// the second pass (RCP_TEST_REDIS_URL = the 3-primary test Cluster) every
// primary is checked on its own.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
)

func testRedisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("RCP_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("RCP_TEST_REDIS_URL is not set: run the tests with `make test`, which starts Redis and the Redis Cluster")
	}
	return url
}

// namesCluster reports whether url is the Cluster form of RCP_REDIS_URL.
func namesCluster(url string) bool { return strings.Contains(url, ",") }

// newPartitionedBroker is a broker on rdb with its own key prefix, the
// given partition count and its functions loaded; its keys are deleted at
// the end of the test.
func newPartitionedBroker(t testing.TB, rdb redis.UniversalClient, partitions int) *broker.Broker {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Partitions = partitions
	cfg.Prefix = brokertest.Prefix()
	b := broker.New(rdb, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.LoadFunctions(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { brokertest.DeleteAll(t, b) })
	return b
}

func dialTest(t testing.TB, url string, partitions int) redis.UniversalClient {
	t.Helper()
	rdb, err := broker.Dial(url, partitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// primaries returns a client per primary, by address: every master of a
// Cluster as the client sees them, or the single server.
func primaries(t testing.TB, rdb redis.UniversalClient) map[string]*redis.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := map[string]*redis.Client{}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			out[n.Options().Addr] = n
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	case *redis.Client:
		out[c.Options().Addr] = c
	default:
		t.Fatalf("unexpected client %T", rdb)
	}
	return out
}

// serverMasters lists the masters that serve slots, as CLUSTER NODES on
// one node tells them.
func serverMasters(t testing.TB, c *redis.ClusterClient) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	text, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		// id addr@bus flags master ping pong epoch state slots...
		if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		out = append(out, addr)
	}
	sort.Strings(out)
	return out
}

func clusterEnabled(t testing.TB, n *redis.Client) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := n.Info(ctx, "cluster").Result()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(info, "cluster_enabled:1")
}

// keySlot is Redis Cluster's slot of a key: CRC16 (XMODEM) of the hash tag,
// the part between the first { and the next }, if not empty, modulo 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

func TestClusterKeySlotHelper(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	for key, want := range map[string]int{"123456789": 12739, "foo": 12182, "{user1000}.following": 3443,
		"{user1000}.followers": 3443, "foo{}{bar}": 8363, "{}foo": 9500, "foo{{bar}}zap": 4015, "foo{bar}{zap}": 5061} {
		if got := keySlot(key); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", key, got, want)
		}
	}
}

// roomIn returns a room id that hashes to partition p of n.
func roomIn(p, n int) string {
	for i := 0; ; i++ {
		if r := fmt.Sprintf("cl%d", i); broker.Partition(r, n) == p {
			return r
		}
	}
}

// TestClusterFunctionsOnEveryPrimary: after LoadFunctions, every primary
// (each of the Cluster's masters, or the single server) runs this build's
// rcp library with all its functions; the client's view of the primaries is
// the server's; and the URL form matches the deployment.
func TestClusterFunctionsOnEveryPrimary(t *testing.T) {
	ctx := context.Background()
	url := testRedisURL(t)
	rdb := dialTest(t, url, 4)
	newPartitionedBroker(t, rdb, 4)
	ps := primaries(t, rdb)
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		if !namesCluster(url) {
			t.Fatalf("Dial(%q) made a Cluster client", url)
		}
		var addrs []string
		for a := range ps {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		if want := serverMasters(t, c); !slices.Equal(addrs, want) {
			t.Fatalf("the client sees primaries %v, CLUSTER NODES lists %v", addrs, want)
		}
		if len(ps) < 3 {
			t.Fatalf("%d primaries: the test Cluster has 3", len(ps))
		}
	case *redis.Client:
		if namesCluster(url) {
			t.Fatalf("Dial(%q) made a single-server client", url)
		}
		if len(ps) != 1 {
			t.Fatalf("single server, %d primaries", len(ps))
		}
	}
	want := []string{"rcp_ack_upto", "rcp_join", "rcp_leave", "rcp_send", "rcp_version"}
	for addr, n := range ps {
		if got := clusterEnabled(t, n); got != namesCluster(url) {
			t.Fatalf("%s: cluster_enabled %v, but the URL %q says %v", addr, got, url, namesCluster(url))
		}
		v, err := n.FCallRO(ctx, "rcp_version", nil).Text()
		if err != nil || v != broker.LibraryVersion {
			t.Fatalf("%s: rcp_version %q %v, want %s", addr, v, err, broker.LibraryVersion)
		}
		libs, err := n.FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: "rcp"}).Result()
		if err != nil {
			t.Fatalf("%s: FUNCTION LIST: %v", addr, err)
		}
		var names []string
		for _, l := range libs {
			if l.Name != "rcp" {
				continue
			}
			for _, f := range l.Functions {
				names = append(names, f.Name)
			}
		}
		sort.Strings(names)
		if !slices.Equal(names, want) {
			t.Fatalf("%s: library rcp has functions %v, want %v", addr, names, want)
		}
	}
}

// TestClusterMismatchedURLIsRefused: a single-server URL that names one node
// of a Cluster would serve that node's partitions and fail the others with
// MOVED, and the Cluster form against a single server cannot work at all:
// LoadFunctions (called at rcpd start) refuses both.
func TestClusterMismatchedURLIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := testRedisURL(t)
	var wrong string
	if namesCluster(url) {
		first := strings.TrimSpace(strings.Split(url, ",")[0])
		if !strings.Contains(first, "://") {
			first = "redis://" + first
		}
		wrong = first
	} else {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		wrong = opt.Addr + "," + opt.Addr
	}
	rdb := dialTest(t, wrong, 4)
	cfg := broker.DefaultConfig()
	cfg.Partitions, cfg.Prefix = 4, brokertest.Prefix()
	err := broker.New(rdb, cfg).LoadFunctions(ctx)
	if err == nil {
		t.Fatalf("LoadFunctions through %q (the deployment is %q) succeeded", wrong, url)
	}
	want := "cluster support disabled" // Redis' own refusal of CLUSTER SLOTS
	if namesCluster(url) {
		want = "is a node of a Redis Cluster"
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("LoadFunctions through %q: %v, want an error saying %q", wrong, err, want)
	}
}

// TestClusterPartitionsSpreadAndRoundTrip: with 16 partitions every key of
// a room shares its partition's slot; the partitions spread over every
// primary; and for a room of every partition, join, send, the ledger, the
// backlog, fan-out, pipelined auto-acks (one batch across all primaries),
// ack-up-to and leave work, with the keys physically on the primary that
// owns the slot.
func TestClusterPartitionsSpreadAndRoundTrip(t *testing.T) {
	const parts = 16
	ctx := context.Background()
	url := testRedisURL(t)
	rdb := dialTest(t, url, parts)
	b := newPartitionedBroker(t, rdb, parts)
	ps := primaries(t, rdb)
	cc, isCluster := rdb.(*redis.ClusterClient)

	fctx, stopFanout := context.WithCancel(ctx)
	f, err := b.NewFanout(fctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan broker.Entry, 4*parts)
	fanoutDone := make(chan struct{})
	go func() { f.Run(fctx, func(e broker.Entry) { got <- e }); close(fanoutDone) }()
	t.Cleanup(func() { stopFanout(); <-fanoutDone })

	rooms := make([]string, parts)
	sent := make([]broker.SendResult, parts)
	owners := map[string][]int{} // primary → partitions
	for p := range rooms {
		room := roomIn(p, parts)
		rooms[p] = room
		k := b.KeysFor(room)
		keys := []string{k.Room(room), k.Members(room), k.Feed(), k.Heads(), k.Due(), k.Dedup(room, "c1")}
		slot := keySlot(keys[0])
		for _, key := range keys {
			if keySlot(key) != slot {
				t.Fatalf("partition %d: %s is in slot %d, %s in %d", p, keys[0], slot, key, keySlot(key))
			}
		}
		var node *redis.Client
		if isCluster {
			if s, err := cc.ClusterKeySlot(ctx, keys[0]).Result(); err != nil || int(s) != slot {
				t.Fatalf("CLUSTER KEYSLOT %s = %d %v, want %d", keys[0], s, err, slot)
			}
			if node, err = cc.MasterForKey(ctx, keys[0]); err != nil {
				t.Fatal(err)
			}
		} else {
			node = rdb.(*redis.Client)
		}
		addr := node.Options().Addr
		if ps[addr] == nil {
			t.Fatalf("partition %d: slot %d on %s, not one of the primaries %v", p, slot, addr, slices.Sorted(maps.Keys(ps)))
		}
		owners[addr] = append(owners[addr], p)

		for _, u := range []string{"alice", "bob"} {
			if _, err := b.Join(ctx, room, u); err != nil {
				t.Fatalf("partition %d on %s: join %s: %v", p, addr, u, err)
			}
		}
		body := fmt.Sprintf(`{"type":"text","text":"p%d"}`, p)
		res, err := b.Send(ctx, broker.SendRequest{Room: room, Sender: "alice", Type: "text", Body: []byte(body), ClientID: "c1"})
		if err != nil || res.Seq != 1 || res.Duplicate {
			t.Fatalf("partition %d on %s: send %+v %v", p, addr, res, err)
		}
		again, err := b.Send(ctx, broker.SendRequest{Room: room, Sender: "alice", Type: "text", Body: []byte(body), ClientID: "c1"})
		if err != nil || again.ID != res.ID || !again.Duplicate {
			t.Fatalf("partition %d on %s: retried send %+v %v, first %+v", p, addr, again, err, res)
		}
		sent[p] = res

		// Every key is on the owning primary itself: a node's own client
		// gets MOVED for a key of another node's slot.
		head := res.ID + " 1"
		if n, err := node.XLen(ctx, k.Room(room)).Result(); err != nil || n != 1 {
			t.Fatalf("partition %d: XLEN %s on %s = %d %v", p, k.Room(room), addr, n, err)
		}
		if ok, err := node.SIsMember(ctx, k.Members(room), "bob").Result(); err != nil || !ok {
			t.Fatalf("partition %d: SISMEMBER %s bob on %s = %v %v", p, k.Members(room), addr, ok, err)
		}
		if v, err := node.HGet(ctx, k.Heads(), room).Result(); err != nil || v != head {
			t.Fatalf("partition %d: HGET %s on %s = %q %v, want %q", p, k.Heads(), addr, v, err, head)
		}
		if _, err := node.ZScore(ctx, k.Due(), room).Result(); err != nil {
			t.Fatalf("partition %d: ZSCORE %s on %s: %v", p, k.Due(), addr, err)
		}
		if v, err := node.Get(ctx, k.Dedup(room, "c1")).Result(); err != nil || v != head+" text" {
			t.Fatalf("partition %d: GET %s on %s = %q %v", p, k.Dedup(room, "c1"), addr, v, err)
		}
		if fe, err := node.XRevRangeN(ctx, k.Feed(), "+", "-", 1).Result(); err != nil || len(fe) != 1 || fe[0].Values["i"] != res.ID {
			t.Fatalf("partition %d: feed %s on %s: %v %v", p, k.Feed(), addr, fe, err)
		}

		pending, err := b.Pending(ctx, room, "bob", "", 10)
		if err != nil || len(pending) != 1 || pending[0].ID != res.ID {
			t.Fatalf("partition %d on %s: bob pending %+v %v", p, addr, pending, err)
		}
		if own, err := b.Pending(ctx, room, "alice", "", 10); err != nil || len(own) != 0 {
			t.Fatalf("partition %d on %s: sender pending %+v %v", p, addr, own, err)
		}
		backlog, err := b.Backlog(ctx, room, "bob", "", 10)
		if err != nil || len(backlog) != 1 || backlog[0].ID != res.ID || string(backlog[0].Body) != body || backlog[0].Room != room {
			t.Fatalf("partition %d on %s: backlog %+v %v", p, addr, backlog, err)
		}
	}

	if isCluster {
		if len(owners) != len(ps) {
			t.Fatalf("16 partitions on %d of %d primaries: %v", len(owners), len(ps), owners)
		}
	} else if len(owners) != 1 {
		t.Fatalf("single server, partitions on %d nodes: %v", len(owners), owners)
	}
	t.Logf("partitions by primary: %v", owners)

	// Fan-out: one blocking XREAD per partition feed, so on every primary.
	seen := map[string]string{}
	timeout := time.After(10 * time.Second)
	for len(seen) < parts {
		select {
		case e := <-got:
			seen[e.Room] = e.ID
		case <-timeout:
			t.Fatalf("fan-out delivered %d of %d partitions' messages: %v", len(seen), parts, seen)
		}
	}
	for p, room := range rooms {
		if seen[room] != sent[p].ID {
			t.Fatalf("fan-out for %s: %q, want %s", room, seen[room], sent[p].ID)
		}
	}

	// Auto-acks: queued first, so one pipeline carries the XACKs of every
	// partition, across every primary.
	a := b.NewAcker()
	for p, room := range rooms {
		a.Ack(room, "bob", sent[p].ID)
	}
	actx, stopAcker := context.WithCancel(ctx)
	ackerDone := make(chan struct{})
	go func() { a.Run(actx); close(ackerDone) }()
	deadline := time.Now().Add(10 * time.Second)
	for p := 0; p < parts; {
		pend, err := b.Pending(ctx, rooms[p], "bob", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(pend) == 0 {
			p++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %d: bob still has %+v pending after the acker ran", p, pend)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopAcker()
	<-ackerDone

	// Ack-up-to and leave: Functions routed by their first key.
	for p, room := range rooms {
		res, err := b.Send(ctx, broker.SendRequest{Room: room, Sender: "alice", Type: "text", Body: []byte(`{}`)})
		if err != nil || res.Seq != 2 {
			t.Fatalf("partition %d: second send %+v %v", p, res, err)
		}
		if n, err := b.AckUpTo(ctx, room, "bob", res.ID); err != nil || n != 1 {
			t.Fatalf("partition %d: ack up to %s: %d %v", p, res.ID, n, err)
		}
		if left, err := b.Leave(ctx, room, "bob"); err != nil || !left {
			t.Fatalf("partition %d: leave %v %v", p, left, err)
		}
	}
}

// downHook fails every command of one node while down names it, as if that
// primary did not answer.
type downHook struct {
	addr string
	down *atomic.Value // string: the address that is "down"
}

var errDown = errors.New("test: primary down")

func (h downHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h downHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.down.Load() == h.addr {
			cmd.SetErr(errDown)
			return errDown
		}
		return next(ctx, cmd)
	}
}

func (h downHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.down.Load() == h.addr {
			for _, c := range cmds {
				c.SetErr(errDown)
			}
			return errDown
		}
		return next(ctx, cmds)
	}
}

// TestClusterPingChecksEveryPrimary: Broker.Ping, rcpd's readiness check,
// fails every time while any one primary does not answer, and passes again
// once it does. (A Cluster client's own PING asks one node: it would pass or
// fail at random.)
func TestClusterPingChecksEveryPrimary(t *testing.T) {
	ctx := context.Background()
	url := testRedisURL(t)
	rdb := dialTest(t, url, 4)
	var down atomic.Value
	down.Store("")
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(n *redis.Client) { n.AddHook(downHook{addr: n.Options().Addr, down: &down}) })
	case *redis.Client:
		c.AddHook(downHook{addr: c.Options().Addr, down: &down})
	}
	b := newPartitionedBroker(t, rdb, 4)
	ping := func() error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return b.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	for addr := range primaries(t, rdb) {
		down.Store(addr)
		for i := 0; i < 10; i++ {
			if err := ping(); !errors.Is(err, errDown) {
				t.Fatalf("ping %d with %s down: %v", i, addr, err)
			}
		}
		down.Store("")
		if err := ping(); err != nil {
			t.Fatalf("ping with every primary up again: %v", err)
		}
	}
}

// TestClusterDialURLs: the forms of RCP_REDIS_URL. No server is contacted.
func TestClusterDialURLs(t *testing.T) {
	cluster := func(url string) *redis.ClusterOptions {
		t.Helper()
		rdb, err := broker.Dial(url, 4)
		if err != nil {
			t.Fatalf("Dial(%q): %v", url, err)
		}
		defer rdb.Close()
		c, ok := rdb.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("Dial(%q) = %T, want a Cluster client", url, rdb)
		}
		return c.Options()
	}
	o := cluster("127.0.0.1:7001,127.0.0.1:7002, 127.0.0.1:7003")
	if !slices.Equal(o.Addrs, []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}) || o.Password != "" || o.TLSConfig != nil {
		t.Fatalf("addresses: %+v", o)
	}
	o = cluster("redis://rcp:s3cret@10.0.0.1:6379/0,redis://rcp:s3cret@10.0.0.2:6379")
	if !slices.Equal(o.Addrs, []string{"10.0.0.1:6379", "10.0.0.2:6379"}) || o.Username != "rcp" || o.Password != "s3cret" {
		t.Fatalf("credentials of the URLs lost: %+v", o)
	}
	if o = cluster("rediss://10.0.0.1:6380,rediss://10.0.0.2:6380"); o.TLSConfig == nil {
		t.Fatal("rediss:// URLs gave a Cluster client without TLS")
	}
	if rdb, err := broker.Dial("redis://10.0.0.1:6379/2,redis://10.0.0.2:6379/2", 4); err == nil {
		rdb.Close()
		t.Fatal("Dial accepted database 2 for a Cluster")
	}
	rdb, err := broker.Dial("redis://:pw@127.0.0.1:6390/3", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if c, ok := rdb.(*redis.Client); !ok || c.Options().DB != 3 || c.Options().Password != "pw" {
		t.Fatalf("single URL: %T %+v", rdb, rdb)
	}
}
