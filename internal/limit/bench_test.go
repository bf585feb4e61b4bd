package limit

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// benchSubject is never refused: the rate and quota are far above what a
// benchmark reaches.
var benchSubject = Subject{KeyID: "bench", KeyName: "bench", Tenant: "acme",
	RPM: 1 << 30, Burst: 1 << 30, DailyTokens: 1 << 60, TenantDailyTokens: 1 << 60}

func BenchmarkAdmit(b *testing.B) {
	for _, be := range backends {
		for _, sub := range []struct {
			name string
			s    Subject
		}{
			{"rate", Subject{KeyID: "bench", RPM: 1 << 30, Burst: 1 << 30}},
			{"rate+quotas", benchSubject},
		} {
			b.Run(be.name+"/"+sub.name, func(b *testing.B) {
				o := Options{}
				if be.redis {
					rdb := testRedis(b)
					o.Redis, o.Prefix = rdb, testPrefix(b, rdb)
				}
				l := New(o)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := l.Admit(ctx, sub.s); err != nil {
						b.Fatal(err)
					}
				}
				if st := l.Stats(); st.Fallbacks != 0 {
					b.Fatalf("%d fallbacks", st.Fallbacks)
				}
			})
		}
	}
}

func BenchmarkCharge(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			o := Options{}
			if be.redis {
				rdb := testRedis(b)
				o.Redis, o.Prefix = rdb, testPrefix(b, rdb)
			}
			l := New(o)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { l.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			if _, err := l.Admit(ctx, benchSubject); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !l.Charge(benchSubject, 16) {
					b.Fatal("quota crossed")
				}
			}
		})
	}
}

// BenchmarkChargeParallel is many streams of many keys of one tenant.
func BenchmarkChargeParallel(b *testing.B) {
	l := New(Options{})
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := benchSubject
		s.KeyID = fmt.Sprint("k", n.Add(1))
		for pb.Next() {
			l.Charge(s, 16)
		}
	})
}
